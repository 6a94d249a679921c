#include <stdio.h>
#include <densenas.h>

int main(int argc, char **argv) {
    char *summary = NULL, message[512];
    /* A search on the embedded digits ("{}": the defaults); run/ gets best.onnx and summary.json. */
    if (densenas_search_run(argc > 1 ? argv[1] : "{}", "run", NULL, NULL, &summary) != DENSENAS_STATUS_OK) {
        densenas_last_error_message(message, sizeof message);
        fprintf(stderr, "densenas: %s\n", message);
        return 1;
    }
    printf("densenas %s: run/best.onnx written\n", densenas_version());
    densenas_string_free(summary);
    return 0;
}
