// A search on the embedded digits from C++, and the export of the best network.
//
//   make cpp-examples && build/cpp/search_digits [model.onnx]
//
// The C++ layer (bindings/cpp/densenas.hpp) owns every handle in a move-only class and
// turns a failed call into a densenas::Error carrying the library's status and message,
// so the search reads as straight-line code and nothing leaks when something throws.
#include <algorithm>
#include <cstdio>
#include <string>

#include "densenas.hpp"

int main(int argc, char **argv) {
    const std::string onnx_path = argc > 1 ? argv[1] : "search_digits.onnx";
    const std::size_t batch = 64;
    try {
        densenas::Dataset data("digits", 0.5, 0);
        const densenas::Rows weight = data.split(densenas::Split::Weight);
        const densenas::Rows val = data.split(densenas::Split::Validation);
        const densenas::Rows test = data.split(densenas::Split::Test);

        const densenas::Space space("{\"features\": " + std::to_string(data.features()) +
                                    ", \"classes\": " + std::to_string(data.classes()) +
                                    ", \"layers\": 4, \"width\": 64, \"blocks\": 4}");
        // The network normalises its raw inputs with the training file's statistics.
        densenas::Session session(space, R"({"strategy": "darts", "seed": 1})", data);

        const std::size_t epochs = 8;
        const std::size_t batches = std::min(weight.n, val.n) / batch;
        for (int phase = 0; phase < 3; phase++) {
            float weight_loss = 0.0f, arch_loss = 0.0f;
            for (std::size_t epoch = 0; epoch < epochs; epoch++) {
                for (std::size_t b = 0; b < batches; b++) {
                    const std::size_t i = b * batch;
                    // How far into the phase: the temperature of gdas and snas follows it.
                    session.set_progress(static_cast<double>(epoch * batches + b) / static_cast<double>(epochs * batches));
                    weight_loss = session.step_weights(weight.slice(i, batch));
                    arch_loss = session.step_architecture(val.slice(i, batch));
                }
            }
            const double best = session.end_phase(val);
            std::printf("phase %d: losses %.4f / %.4f, best validation accuracy %.4f\n", phase + 1,
                        static_cast<double>(weight_loss), static_cast<double>(arch_loss), best);
        }
        const densenas::Evaluation result = session.evaluate(test);
        session.export_onnx(onnx_path);
        std::printf("best DAG: %s\n", session.best_dag_json().c_str());
        std::printf("test accuracy %.4f (loss %.4f), exported to %s\n", result.accuracy, result.loss,
                    onnx_path.c_str());
    } catch (const densenas::Error &e) {
        // For example DENSENAS_STATUS_IO: /read-only/model.onnx: Permission denied ...
        std::fprintf(stderr, "%s (status %u)\n", e.what(), static_cast<unsigned>(e.status()));
        return 1;
    }
    return 0;
}
