/* A whole search on the embedded digits from C, and the export of the best network.
 *
 *   make c-examples && build/c/search_digits [model.onnx]
 *
 * Every call returns a densenas_status; on failure densenas_last_error_message says
 * why. Outputs are written only on success, so nothing needs resetting after an error. */
#include <stdio.h>

#include "densenas.h"

static densenas_status check(densenas_status status, const char *what) {
    if (status != DENSENAS_STATUS_OK) {
        char message[512];
        densenas_last_error_message(message, sizeof message);
        fprintf(stderr, "%s: %s: %s\n", what, densenas_status_name(status), message);
    }
    return status;
}

#define CHECK(call) if (check((call), #call) != DENSENAS_STATUS_OK) goto done

int main(int argc, char **argv) {
    const char *onnx_path = argc > 1 ? argv[1] : "search_digits.onnx";
    const size_t batch = 64;
    densenas_dataset *data = NULL;
    densenas_space *space = NULL;
    densenas_session *session = NULL;
    char *best_json = NULL;
    const float *xw, *xv, *xt;
    const int64_t *yw, *yv, *yt;
    size_t nw, nv, nt, features, classes, i;
    double best = 0.0, accuracy = 0.0, loss = 0.0;
    float weight_loss = 0.0f, arch_loss = 0.0f;
    char config[256];
    int phase, epoch, rc = 1;

    CHECK(densenas_dataset_load("digits", 0.5, 0, &data));
    CHECK(densenas_dataset_shape(data, &features, &classes));
    CHECK(densenas_dataset_split(data, DENSENAS_SPLIT_WEIGHT, &xw, &yw, &nw));
    CHECK(densenas_dataset_split(data, DENSENAS_SPLIT_VALIDATION, &xv, &yv, &nv));
    CHECK(densenas_dataset_split(data, DENSENAS_SPLIT_TEST, &xt, &yt, &nt));

    snprintf(config, sizeof config,
             "{\"features\": %zu, \"classes\": %zu, \"layers\": 4, \"width\": 64, \"blocks\": 4}",
             features, classes);
    CHECK(densenas_space_new(config, &space));
    /* The network normalises its raw inputs with the training file's statistics. */
    CHECK(densenas_session_new_for_dataset(space, "{\"strategy\": \"darts\", \"seed\": 1}", data, &session));
    densenas_space_free(space); /* the session keeps what it needs */
    space = NULL;

    for (phase = 0; phase < 3; phase++) {
        for (epoch = 0; epoch < 8; epoch++) {
            for (i = 0; i + batch <= nw && i + batch <= nv; i += batch) {
                CHECK(densenas_session_step_weights(session, xw + i * features, batch * features,
                                                    yw + i, batch, &weight_loss));
                CHECK(densenas_session_step_architecture(session, xv + i * features, batch * features,
                                                         yv + i, batch, &arch_loss));
            }
        }
        CHECK(densenas_session_end_phase(session, xv, nv * features, yv, nv, &best));
        printf("phase %d: losses %.4f / %.4f, best validation accuracy %.4f\n", phase + 1,
               (double)weight_loss, (double)arch_loss, best);
    }
    CHECK(densenas_session_evaluate(session, xt, nt * features, yt, nt, &accuracy, &loss));
    CHECK(densenas_session_best_dag_json(session, &best_json));
    CHECK(densenas_session_export_onnx(session, onnx_path));
    printf("best DAG: %s\n", best_json);
    printf("test accuracy %.4f (loss %.4f), exported to %s\n", accuracy, loss, onnx_path);
    rc = 0;
done:
    densenas_string_free(best_json);
    densenas_session_free(session);
    densenas_space_free(space);
    densenas_dataset_free(data);
    return rc;
}
