/* densenas_train from C (plain and under ASan/UBSan): two DAGs with two seeds train as
 * one population; every member is reported, and a member equals its DAG and seed
 * trained alone (the same test loss, printed to the last digit); the progress callback
 * gets one DENSENAS_PROGRESS_TRAIN report per epoch with a finite mean loss, and
 * returning non-zero stops the training (no call after it, the result marked
 * interrupted); bad requests get their status and a message naming the key.
 *
 *   tests/c/train               (prints "ok" lines; exits non-zero on failure) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "densenas.h"

static int failures = 0;

#define EXPECT(cond, ...)                                          \
    do {                                                           \
        if (!(cond)) {                                             \
            fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                          \
            fprintf(stderr, "\n");                                 \
            failures++;                                            \
        }                                                          \
    } while (0)

static const char *last_error(void) {
    static char message[1024];
    densenas_last_error_message(message, sizeof message);
    return message;
}

#define OK(call)                                                                      \
    do {                                                                              \
        densenas_status s_ = (call);                                                  \
        if (s_ != DENSENAS_STATUS_OK) {                                               \
            fprintf(stderr, "FAILED %s:%d: %s: %s: %s\n", __FILE__, __LINE__, #call, \
                    densenas_status_name(s_), last_error());                          \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

typedef struct {
    int reports, other_kinds, non_finite, stop_at, calls_after_stop, stopped;
} counter;

static int32_t on_progress(const densenas_progress *p, void *user_data) {
    counter *c = user_data;
    if (c->stopped) {
        c->calls_after_stop++;
        return 1;
    }
    c->reports++;
    if (p->kind != DENSENAS_PROGRESS_TRAIN || p->epochs != 3 || p->epoch != (size_t)(c->reports - 1)) c->other_kinds++;
    if (!isfinite(p->loss)) c->non_finite++;
    if (c->reports == c->stop_at) {
        c->stopped = 1;
        return 1;
    }
    return 0;
}

/* The value of the n-th (from 0) `"key":` in `json`, copied into `out`. */
static void nth_value(const char *json, const char *key, int n, char *out, size_t len) {
    char pattern[64];
    const char *p = json;
    size_t k = 0;
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    out[0] = '\0';
    for (; n >= 0; n--) {
        p = strstr(p, pattern);
        if (p == NULL) return;
        p += strlen(pattern);
    }
    while (p[k] != ',' && p[k] != '}' && p[k] != '\0' && k + 1 < len) {
        out[k] = p[k];
        k++;
    }
    out[k] = '\0';
}

static int count(const char *json, const char *needle) {
    int n = 0;
    for (; (json = strstr(json, needle)) != NULL; json++) n++;
    return n;
}

#define REQUEST(dags, seeds)                                                                      \
    "{\"space\": {\"width\": 16}, \"train\": {\"epochs\": 3}, \"dags\": " dags ", \"seeds\": " seeds \
    "}"

static void test_population(void) {
    counter c = {0, 0, 0, 0, 0, 0};
    char *result = NULL, *alone = NULL;
    char together_loss[64], alone_loss[64];
    OK(densenas_train(REQUEST("[{\"layers\": 3, \"edges\": [[0, 1], [1, 2]]}, "
                              "{\"layers\": 3, \"edges\": [[0, 1], [0, 2], [1, 2]]}]",
                              "[4, 5]"),
                      on_progress, &c, &result));
    EXPECT(count(result, "\"test_accuracy\":") == 4, "4 trained members expected: %s", result);
    EXPECT(count(result, "\"failed\"") == 0 && strstr(result, "\"interrupted\":false") != NULL, "%s", result);
    EXPECT(c.reports == 3 && c.other_kinds == 0 && c.non_finite == 0, "reports %d, wrong %d, non-finite %d",
           c.reports, c.other_kinds, c.non_finite);
    /* Member 3 is DAG 1 with seed 5: trained alone, the same network. */
    OK(densenas_train(REQUEST("[{\"layers\": 3, \"edges\": [[0, 1], [0, 2], [1, 2]]}]", "[5]"), NULL, NULL, &alone));
    nth_value(result, "test_loss", 3, together_loss, sizeof together_loss);
    nth_value(alone, "test_loss", 0, alone_loss, sizeof alone_loss);
    EXPECT(together_loss[0] != '\0' && strcmp(together_loss, alone_loss) == 0, "member 3: %s, alone: %s",
           together_loss, alone_loss);
    densenas_string_free(result);
    densenas_string_free(alone);
    printf("ok population of 4: every member reported, member 3 equals its DAG and seed alone (test loss %s)\n",
           together_loss);
}

static void test_stop(void) {
    counter c = {0, 0, 0, 1, 0, 0};
    char *result = NULL;
    OK(densenas_train(REQUEST("[{\"layers\": 3, \"edges\": [[0, 1]]}]", "[0, 1]"), on_progress, &c, &result));
    EXPECT(c.stopped && c.calls_after_stop == 0, "stopped %d, calls after the stop %d", c.stopped,
           c.calls_after_stop);
    EXPECT(strstr(result, "\"interrupted\":true") != NULL && strstr(result, "\"members\":[]") != NULL, "%s", result);
    densenas_string_free(result);
    printf("ok stop on a training report: interrupted, no call after the stop\n");
}

static void expect_error(const char *request, densenas_status expected, const char *words) {
    char *result = NULL;
    densenas_status s = densenas_train(request, NULL, NULL, &result);
    EXPECT(s == expected, "%s: %s, expected %s", request ? request : "NULL", densenas_status_name(s),
           densenas_status_name(expected));
    EXPECT(strstr(last_error(), words) != NULL, "%s: message %s lacks %s", request ? request : "NULL", last_error(),
           words);
    EXPECT(result == NULL, "an output was written on failure");
}

static void test_bad_requests(void) {
    char *result = NULL;
    expect_error(NULL, DENSENAS_STATUS_NULL_PARAMETER, "request_json");
    expect_error("{\"dags\": []}", DENSENAS_STATUS_INVALID_CONFIG, "dags");
    expect_error("{\"dags\": [{\"layers\": 3, \"edges\": []}], \"colour\": 1}", DENSENAS_STATUS_INVALID_CONFIG,
                 "colour");
    expect_error("{\"dags\": [{\"layers\": 3, \"edges\": []}], \"train\": {\"epochs\": \"two\"}}",
                 DENSENAS_STATUS_INVALID_CONFIG, "train.epochs");
    expect_error("{\"dags\": [{\"layers\": 3, \"edges\": []}, {\"layers\": 2, \"edges\": []}]}",
                 DENSENAS_STATUS_INVALID_CONFIG, "dags[1]");
    expect_error("{\"dags\": [{\"layers\": 3, \"edges\": []}], \"space\": {\"layers\": 4}}",
                 DENSENAS_STATUS_INVALID_CONFIG, "space.layers");
    expect_error("{\"dags\": [{\"layers\": 3, \"edges\": []}], \"seeds\": []}", DENSENAS_STATUS_INVALID_CONFIG,
                 "seeds");
    EXPECT(densenas_train("{\"dags\": []}", NULL, NULL, NULL) == DENSENAS_STATUS_NULL_PARAMETER, "NULL output");
    EXPECT(result == NULL, "unused");
    printf("ok bad requests: their status and a message naming the key\n");
}

int main(void) {
    test_population();
    test_stop();
    test_bad_requests();
    if (failures > 0) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("all ok\n");
    return 0;
}
