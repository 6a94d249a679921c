/* The C ABI's reliability, tested from C (plain and under ASan/UBSan):
 *
 * - a session saved and loaded continues with the same losses, alpha and phase
 *   results, bit for bit, as the original (darts2, which keeps its last batch, and
 *   gdas, which draws random numbers);
 * - a missing, truncated or foreign session file gets a clear error;
 * - wrong lengths (a huge batch_size to predict, logits_len, x_len) are refused before
 *   anything is allocated, and the session is unchanged after every failure;
 * - a diverging step (a huge learning rate) is DENSENAS_STATUS_DIVERGED, names the
 *   step, phase and learning rate, and leaves the weights as they were;
 * - a progress callback that returns non-zero stops the search at each kind of report
 *   (phase, epoch, step, retraining), is not called again, and the summary says so.
 *
 *   tests/c/reliability OUT_DIR        (prints "ok" lines; exits non-zero on failure) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "densenas.h"

static int failures = 0;

#define EXPECT(cond, ...)                                   \
    do {                                                    \
        if (!(cond)) {                                      \
            fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                   \
            fprintf(stderr, "\n");                          \
            failures++;                                     \
        }                                                   \
    } while (0)

static const char *last_error(void) {
    static char message[1024];
    densenas_last_error_message(message, sizeof message);
    return message;
}

#define OK(call)                                                                       \
    do {                                                                               \
        densenas_status s_ = (call);                                                   \
        if (s_ != DENSENAS_STATUS_OK) {                                                \
            fprintf(stderr, "FAILED %s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call,  \
                    densenas_status_name(s_), last_error());                           \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

typedef struct {
    const float *xw, *xv;
    const int64_t *yw, *yv;
    size_t nw, nv, features, classes;
} splits;

enum { BATCH = 32 };

/* Steps `steps` weight and architecture steps from batch `offset` on, writing every
 * loss to `losses` (2 per step). */
static void run_steps(densenas_session *s, const splits *d, size_t offset, int steps, float *losses) {
    int i;
    for (i = 0; i < steps; i++) {
        size_t row = ((offset + (size_t)i) * BATCH) % (d->nw - BATCH);
        size_t vrow = ((offset + (size_t)i) * BATCH) % (d->nv - BATCH);
        OK(densenas_session_set_progress(s, (double)i / steps));
        OK(densenas_session_step_weights(s, d->xw + row * d->features, BATCH * d->features, d->yw + row, BATCH,
                                         &losses[2 * i]));
        OK(densenas_session_step_architecture(s, d->xv + vrow * d->features, BATCH * d->features, d->yv + vrow,
                                              BATCH, &losses[2 * i + 1]));
    }
}

static void test_save_load_round_trip(densenas_dataset *data, const splits *d, const char *dir, const char *strategy) {
    char space_json[256], options[128], path[1024];
    densenas_space *space = NULL;
    densenas_session *a = NULL, *b = NULL;
    float la[40], lb[40];
    double alpha_a[3], alpha_b[3], best_a, best_b;
    int i;

    snprintf(space_json, sizeof space_json,
             "{\"features\": %zu, \"classes\": %zu, \"layers\": 3, \"width\": 16, \"blocks\": 3}", d->features,
             d->classes);
    snprintf(options, sizeof options, "{\"strategy\": \"%s\", \"seed\": 7}", strategy);
    OK(densenas_space_new(space_json, &space));
    OK(densenas_session_new_for_dataset(space, options, data, &a));
    densenas_space_free(space);

    run_steps(a, d, 0, 10, la);
    OK(densenas_session_end_phase(a, d->xv, d->nv * d->features, d->yv, d->nv, &best_a));
    run_steps(a, d, 10, 5, la);
    snprintf(path, sizeof path, "%s/%s.session", dir, strategy);
    OK(densenas_session_save(a, path));
    OK(densenas_session_load(path, &b));
    {
        size_t f = 0, c = 0;
        OK(densenas_session_shape(b, &f, &c));
        EXPECT(f == d->features && c == d->classes, "loaded shape %zu x %zu", f, c);
    }

    /* Both go on with the same batches: every loss equal, bit for bit. */
    run_steps(a, d, 15, 20, la);
    run_steps(b, d, 15, 20, lb);
    EXPECT(memcmp(la, lb, sizeof la) == 0, "%s: losses differ after loading (%.9g vs %.9g)", strategy, (double)la[0],
           (double)lb[0]);
    OK(densenas_session_alpha(a, alpha_a, 3));
    OK(densenas_session_alpha(b, alpha_b, 3));
    EXPECT(memcmp(alpha_a, alpha_b, sizeof alpha_a) == 0, "%s: alpha differs after loading", strategy);
    OK(densenas_session_end_phase(a, d->xv, d->nv * d->features, d->yv, d->nv, &best_a));
    OK(densenas_session_end_phase(b, d->xv, d->nv * d->features, d->yv, d->nv, &best_b));
    EXPECT(best_a == best_b, "%s: phase results differ (%g vs %g)", strategy, best_a, best_b);
    for (i = 0; i < 40; i++) EXPECT(isfinite(la[i]), "loss %d is not finite", i);
    printf("ok save/load round trip (%s): 40 losses, alpha and phase results equal\n", strategy);
    densenas_session_free(a);
    densenas_session_free(b);
}

static void expect_load_error(const char *path, densenas_status expected, const char *words) {
    densenas_session *s = (densenas_session *)0x1; /* must stay untouched */
    densenas_status status = densenas_session_load(path, &s);
    EXPECT(status == expected, "loading %s: %s (%s), expected %s", path, densenas_status_name(status), last_error(),
           densenas_status_name(expected));
    EXPECT(s == (densenas_session *)0x1, "the out pointer was written on failure");
    EXPECT(strstr(last_error(), words) != NULL, "message %s lacks %s", last_error(), words);
}

static void test_bad_session_files(const char *dir) {
    char path[1024], bad[1024];
    FILE *f;
    long size;
    char *bytes;

    snprintf(path, sizeof path, "%s/missing.session", dir);
    expect_load_error(path, DENSENAS_STATUS_IO, "missing.session");

    snprintf(path, sizeof path, "%s/gdas.session", dir);
    f = fopen(path, "rb");
    EXPECT(f != NULL, "cannot open %s", path);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    bytes = malloc((size_t)size);
    EXPECT(fread(bytes, 1, (size_t)size, f) == (size_t)size, "short read");
    fclose(f);

    snprintf(bad, sizeof bad, "%s/truncated.session", dir);
    f = fopen(bad, "wb");
    fwrite(bytes, 1, (size_t)size / 2, f);
    fclose(f);
    expect_load_error(bad, DENSENAS_STATUS_INVALID_INPUT, "truncated.session");

    snprintf(bad, sizeof bad, "%s/foreign.session", dir);
    f = fopen(bad, "wb");
    fputs("this is not a saved session", f);
    fclose(f);
    expect_load_error(bad, DENSENAS_STATUS_INVALID_INPUT, "not a readable safetensors file");
    free(bytes);
    printf("ok bad session files: missing, truncated and foreign files refused\n");
}

static void test_lengths_and_divergence(densenas_dataset *data, const splits *d) {
    char space_json[256];
    densenas_space *space = NULL;
    densenas_session *s = NULL;
    float logits[10 * 4], loss = -1.0f, before[4 * 10], after[4 * 10];
    double alpha[3];
    densenas_status status;

    snprintf(space_json, sizeof space_json,
             "{\"features\": %zu, \"classes\": %zu, \"layers\": 3, \"width\": 16, \"blocks\": 3}", d->features,
             d->classes);
    OK(densenas_space_new(space_json, &space));
    OK(densenas_session_new_for_dataset(space, "{\"strategy\": \"darts\", \"seed\": 1, \"grad_clip\": null}", data,
                                        &s));
    densenas_space_free(space);

    /* A huge batch_size: refused before anything is allocated. */
    status = densenas_session_predict(s, d->xv, 4 * d->features, SIZE_MAX / 2, logits, 40);
    EXPECT(status == DENSENAS_STATUS_INVALID_INPUT, "huge batch: %s", densenas_status_name(status));
    status = densenas_session_predict(s, d->xv, 4 * d->features, (size_t)1 << 60, logits, ((size_t)1 << 60) * 10);
    EXPECT(status == DENSENAS_STATUS_INVALID_INPUT, "huge batch with matching logits_len: %s",
           densenas_status_name(status));
    status = densenas_session_predict(s, d->xv, 4 * d->features, 4, logits, 39);
    EXPECT(status == DENSENAS_STATUS_INVALID_INPUT && strstr(last_error(), "logits_len"), "logits_len: %s",
           last_error());
    status = densenas_session_predict(s, d->xv, 3, 4, logits, 40);
    EXPECT(status == DENSENAS_STATUS_INVALID_INPUT && strstr(last_error(), "x_len"), "x_len: %s", last_error());
    status = densenas_session_alpha(s, alpha, 2);
    EXPECT(status == DENSENAS_STATUS_INVALID_INPUT, "alpha len: %s", densenas_status_name(status));
    status = densenas_session_step_weights(s, d->xw, BATCH * d->features, d->yw, SIZE_MAX / 4, &loss);
    EXPECT(status == DENSENAS_STATUS_INVALID_INPUT, "step with a huge batch: %s", densenas_status_name(status));
    status = densenas_session_predict(s, (const float *)((const char *)d->xv + 1), 4 * d->features, 4, logits, 40);
    EXPECT(status == DENSENAS_STATUS_INVALID_INPUT && strstr(last_error(), "aligned"), "misaligned x: %s",
           last_error());
    EXPECT(loss == -1.0f, "an output was written on failure");

    /* Divergence: a huge learning rate without clipping. */
    OK(densenas_session_predict(s, d->xv, 4 * d->features, 4, before, 40));
    OK(densenas_session_set_learning_rate(s, 1e12));
    status = DENSENAS_STATUS_OK;
    {
        int i;
        for (i = 0; i < 20 && status == DENSENAS_STATUS_OK; i++) {
            OK(densenas_session_predict(s, d->xv, 4 * d->features, 4, before, 40));
            status = densenas_session_step_weights(s, d->xw + (size_t)i * BATCH * d->features, BATCH * d->features,
                                                   d->yw + (size_t)i * BATCH, BATCH, &loss);
        }
    }
    EXPECT(status == DENSENAS_STATUS_DIVERGED, "a learning rate of 1e12 did not diverge: %s",
           densenas_status_name(status));
    EXPECT(strstr(last_error(), "weight step") && strstr(last_error(), "phase 1") &&
               strstr(last_error(), "learning rate 1e12"),
           "divergence message: %s", last_error());
    /* The weights are those before the failed step: the same predictions. */
    OK(densenas_session_predict(s, d->xv, 4 * d->features, 4, after, 40));
    EXPECT(memcmp(before, after, sizeof before) == 0, "a diverged step changed the weights");
    densenas_session_free(s);
    printf("ok lengths refused before allocating; divergence reported with the weights unchanged\n");
}

/* Stops at the `stop_at`-th report of kind `kind`; counts every report. */
typedef struct {
    uint32_t kind;
    int stop_at;
    int seen_of_kind;
    int calls_after_stop;
    int stopped;
} stopper;

static int32_t on_progress(const densenas_progress *p, void *user_data) {
    stopper *st = user_data;
    if (st->stopped) {
        st->calls_after_stop++;
        return 1;
    }
    if (p->kind == st->kind && ++st->seen_of_kind == st->stop_at) {
        st->stopped = 1;
        return 1;
    }
    return 0;
}

static void test_stop_on_each_report(const char *dir) {
    static const struct {
        uint32_t kind;
        const char *name;
        int stop_at;
        int phases_expected;
    } cases[] = {
        {DENSENAS_PROGRESS_PHASE, "a phase", 1, 1},
        {DENSENAS_PROGRESS_EPOCH, "an epoch", 2, 1},
        {DENSENAS_PROGRESS_STEP, "a step", 5, 1},
        {DENSENAS_PROGRESS_RETRAIN, "a retraining", 1, 2},
    };
    const char *config =
        "{\"space\": {\"layers\": 3, \"width\": 16, \"blocks\": 3}, \"phases\": 2, \"epochs\": 3, "
        "\"retrain\": {\"epochs\": 4}, \"session\": {\"seed\": 2}}";
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stopper st = {cases[i].kind, cases[i].stop_at, 0, 0, 0};
        char out_dir[1024];
        char *summary = NULL;
        const char *p;
        int phases = 0;
        snprintf(out_dir, sizeof out_dir, "%s/stop-%zu", dir, i);
        OK(densenas_search_run_with_options(config, out_dir, "{\"step_reports\": true}", on_progress, &st, &summary));
        EXPECT(st.stopped, "%s: never stopped", cases[i].name);
        EXPECT(st.calls_after_stop == 0, "%s: called %d times after asking to stop", cases[i].name,
               st.calls_after_stop);
        EXPECT(strstr(summary, "\"interrupted\": true") != NULL, "%s: summary not interrupted", cases[i].name);
        EXPECT(strstr(summary, "\"retrained\": false") != NULL, "%s: retrained after a stop", cases[i].name);
        /* Count the phases reported: each has a "kendall_tau" key. */
        for (p = summary; (p = strstr(p, "\"kendall_tau\"")) != NULL; p++) phases++;
        EXPECT(phases == cases[i].phases_expected, "%s: %d phases in the summary, expected %d", cases[i].name,
               phases, cases[i].phases_expected);
        EXPECT(strstr(summary, "\"test_accuracy\": null") != NULL, "%s: the baseline has an accuracy after a stop",
               cases[i].name);
        densenas_string_free(summary);
        printf("ok stop on %s report: interrupted, %d phase(s), nothing retrained, no call after the stop\n",
               cases[i].name, phases);
    }
}

/* An experiment from C: list its units, run each by id, write the report. */
static void test_experiment(const char *dir) {
    char file[1024], out[1024], id[65];
    char *units = NULL, *report = NULL;
    const char *p;
    int ran = 0;
    FILE *f;
    snprintf(file, sizeof file, "%s/experiment.json", dir);
    snprintf(out, sizeof out, "%s/experiment", dir);
    f = fopen(file, "w");
    fputs("{\"datasets\": [\"digits\"], \"spaces\": [{\"layers\": 2, \"width\": 8, \"blocks\": 2}], "
          "\"strategies\": [\"gdas\"], \"seeds\": [0], \"search\": {\"phases\": 1, \"epochs\": 1}, "
          "\"retrain_epochs\": 1, \"baselines\": [\"chain\"]}",
          f);
    fclose(f);
    OK(densenas_experiment_list_units(file, out, &units));
    for (p = units; (p = strstr(p, "\"id\":\"")) != NULL; p += 6) {
        memcpy(id, p + 6, 64);
        id[64] = 0;
        OK(densenas_experiment_run_unit(file, out, id));
        ran++;
    }
    densenas_string_free(units);
    EXPECT(ran == 2, "ran %d units, expected the search and the chain", ran);
    OK(densenas_report_write(out, &report));
    EXPECT(strstr(report, "\"finished\": 2") != NULL, "report: %.200s", report);
    densenas_string_free(report);
    EXPECT(densenas_experiment_run_unit(file, out, "nonexistent") == DENSENAS_STATUS_INVALID_INPUT, "a bad unit id");
    /* A unit from its definition alone (what a cluster worker runs): bad arguments. */
    EXPECT(densenas_experiment_run_unit_spec(NULL, id, "{}") == DENSENAS_STATUS_NULL_PARAMETER, "a NULL folder");
    EXPECT(densenas_experiment_run_unit_spec(out, id, NULL) == DENSENAS_STATUS_NULL_PARAMETER, "a NULL definition");
    EXPECT(densenas_experiment_run_unit_spec(out, id, "{\"kind\": 1}") == DENSENAS_STATUS_INVALID_CONFIG,
           "a definition that is not one");
    printf("ok experiment: %d units listed and run by id, report written\n", ran);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    densenas_dataset *data = NULL;
    splits d;
    OK(densenas_dataset_load("digits", 0.5, 0, &data));
    OK(densenas_dataset_shape(data, &d.features, &d.classes));
    OK(densenas_dataset_split(data, DENSENAS_SPLIT_WEIGHT, &d.xw, &d.yw, &d.nw));
    OK(densenas_dataset_split(data, DENSENAS_SPLIT_VALIDATION, &d.xv, &d.yv, &d.nv));

    test_save_load_round_trip(data, &d, dir, "darts2");
    test_save_load_round_trip(data, &d, dir, "gdas");
    test_bad_session_files(dir);
    test_lengths_and_divergence(data, &d);
    test_stop_on_each_report(dir);
    test_experiment(dir);
    densenas_dataset_free(data);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("all ok\n");
    return 0;
}
