#include <iostream>
#include <densenas.hpp>

int main(int argc, char **argv) {
    try {
        // A search on the embedded digits ("{}": the defaults); run/ gets best.onnx and summary.json.
        densenas::String summary = densenas::search(argc > 1 ? argv[1] : "{}", "run");
        std::cout << "densenas " << densenas_version() << ": run/best.onnx written\n";
    } catch (const densenas::Error &e) {
        std::cerr << "densenas: " << e.message() << "\n";
        return 1;
    }
    return 0;
}
