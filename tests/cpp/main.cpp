// The C++ binding, translation unit 2 of 2: versions, malformed configurations, whole
// searches with a progress callback (stopping, throwing, writing a run folder), then
// the session test of session.cpp. Both units include densenas.hpp, so its inline
// functions and variables must link to one definition each.
//
//   binding_test MODEL.onnx RUN_DIR
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "densenas.hpp"

#include "checks.hpp"

namespace {

const char *const SMALL = R"({"space": {"layers": 3, "width": 16, "blocks": 3}, "phases": 3, "epochs": 2, "retrain": {"epochs": 2}})";

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

void test_versions_and_one_definition() {
    CHECK(std::strcmp(densenas::version(), DENSENAS_VERSION) == 0);
    CHECK(std::strcmp(densenas::status_name(DENSENAS_STATUS_INVALID_INPUT), "DENSENAS_STATUS_INVALID_INPUT") == 0);
    CHECK(session_unit_last_error_message() == &densenas::last_error_message);
    CHECK(session_unit_check() == &densenas::detail::check);
}

void test_malformed_configurations() {
    const std::vector<std::pair<std::string, std::string>> spaces = {
        {"{not json", "invalid configuration"},
        {R"({"features": 64, "classes": 10, "layers": 3, "width": 16, "colour": 1})", "unknown field `colour`"},
        {R"({"features": 64, "classes": 10, "layers": 99, "width": 16})", "layers"},
    };
    for (const auto &[json, needle] : spaces) {
        try {
            densenas::Space space(json);
            CHECK(!"a malformed space was accepted");
        } catch (const densenas::Error &e) {
            CHECK(e.status() == DENSENAS_STATUS_INVALID_CONFIG);
            CHECK(contains(e.message(), needle));
            std::printf("caught %s\n", e.what());
        }
    }
    densenas::Space space(R"({"features": 64, "classes": 10, "layers": 3, "width": 16})");
    try {
        densenas::Session session(space, R"({"seed": 1, "extra": true})");
        CHECK(!"unknown session option accepted");
    } catch (const densenas::Error &e) {
        CHECK(e.status() == DENSENAS_STATUS_INVALID_CONFIG && contains(e.message(), "unknown field `extra`"));
    }
    try {
        densenas::Dataset data("nowhere");
        CHECK(!"unknown dataset accepted");
    } catch (const densenas::Error &e) {
        CHECK(e.status() == DENSENAS_STATUS_INVALID_CONFIG && contains(e.message(), "nowhere"));
    }
    try {
        (void)densenas::search(R"({"space": {"depth": 3}})", std::nullopt,
                               [](const densenas::Progress &) -> bool { throw std::logic_error("reported progress"); });
        CHECK(!"malformed search configuration accepted");
    } catch (const densenas::Error &e) {
        CHECK(e.status() == DENSENAS_STATUS_INVALID_CONFIG && contains(e.message(), "unknown field `depth`"));
    }
}

void test_search_stops_when_asked() {
    std::vector<densenas::Progress> reports;
    const densenas::String summary = densenas::search(SMALL, std::nullopt, [&](const densenas::Progress &p) {
        reports.push_back(p);
        return p.kind == densenas::ProgressKind::Phase;
    });
    CHECK(contains(summary.view(), "\"interrupted\": true"));
    CHECK(reports.size() == 3);
    CHECK(reports[0].kind == densenas::ProgressKind::Epoch && reports[0].epochs == 2 && reports[0].epoch == 0);
    CHECK(reports[1].kind == densenas::ProgressKind::Epoch && reports[1].epoch == 1);
    CHECK(std::isfinite(reports[0].loss) && std::isfinite(reports[0].arch_loss));
    CHECK(reports[2].kind == densenas::ProgressKind::Phase && reports[2].best_val_accuracy > 0.0);
}

struct Boom : std::runtime_error {
    Boom() : std::runtime_error("boom") {}
};

void test_a_throwing_callback_stops_the_search_and_its_exception_comes_back() {
    int calls = 0;
    bool caught = false;
    try {
        (void)densenas::search(SMALL, std::nullopt, [&](const densenas::Progress &) -> bool {
            ++calls;
            throw Boom();
        });
    } catch (const Boom &) {
        caught = true;
    }
    CHECK(caught && calls == 1);
}

void test_search_writes_a_run_folder(const std::string &dir) {
    std::size_t phases = 0;
    const densenas::String summary = densenas::search(
        R"({"space": {"layers": 3, "width": 16, "blocks": 3}, "phases": 2, "epochs": 2, "retrain": {"epochs": 2}})", dir,
        [&](const densenas::Progress &p) {
            phases += p.kind == densenas::ProgressKind::Phase ? 1 : 0;
            return false;
        });
    CHECK(phases == 2);
    CHECK(contains(summary.view(), "\"interrupted\": false"));
    for (const char *name : {"/summary.json", "/config.json", "/best.onnx", "/best.json"}) CHECK(std::ifstream(dir + name).good());
    std::printf("run folder %s\n", dir.c_str());
}

void test_a_stop_on_each_kind_of_report() {
    using K = densenas::ProgressKind;
    const char *const config =
        R"({"space": {"layers": 3, "width": 16, "blocks": 3}, "phases": 2, "epochs": 2, "retrain": {"epochs": 2}})";
    const std::vector<std::pair<K, std::size_t>> cases = {{K::Phase, 1}, {K::Epoch, 2}, {K::Step, 3}, {K::Retrain, 1}};
    for (const auto &[kind, nth] : cases) {
        std::size_t of_kind = 0, after_stop = 0;
        bool stopped = false;
        densenas::RunOptions options;
        options.step_reports = true;
        const densenas::String summary = densenas::search(config, std::nullopt, [&](const densenas::Progress &p) {
            if (stopped) ++after_stop;
            stopped = stopped || (p.kind == kind && ++of_kind == nth);
            return stopped;
        }, options);
        CHECK(stopped && after_stop == 0);
        CHECK(contains(summary.view(), "\"interrupted\": true") && contains(summary.view(), "\"retrained\": false"));
    }
}

void test_resume(const std::string &dir) {
    const char *const config =
        R"({"space": {"layers": 3, "width": 16, "blocks": 3}, "phases": 3, "epochs": 2, "retrain": {"epochs": 2}})";
    const std::string whole = dir + "-whole", stopped = dir + "-stopped";
    (void)densenas::search(config, whole);
    const densenas::String first = densenas::search(config, stopped, [](const densenas::Progress &p) {
        return p.kind == densenas::ProgressKind::Epoch && p.phase == 1;
    });
    CHECK(contains(first.view(), "\"interrupted\": true"));
    const densenas::String resumed = densenas::resume(stopped);
    CHECK(contains(resumed.view(), "\"from_phase\": 1") && contains(resumed.view(), "\"interrupted\": false"));
    auto read = [](const std::string &path) {
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    };
    CHECK(!read(whole + "/history.jsonl").empty());
    CHECK(read(whole + "/history.jsonl") == read(stopped + "/history.jsonl"));
    CHECK(read(whole + "/best.onnx") == read(stopped + "/best.onnx"));
    try {
        (void)densenas::resume(stopped);
        CHECK(!"a finished search was resumed");
    } catch (const densenas::Error &e) {
        CHECK(e.status() == DENSENAS_STATUS_INVALID_STATE && contains(e.message(), "nothing to resume"));
    }
    std::printf("resumed %s: the same history and best.onnx as %s\n", stopped.c_str(), whole.c_str());
}

void test_train_a_population() {
    const std::string request = R"({"space": {"width": 16}, "train": {"epochs": 2}, "seeds": [1, 2],
        "dags": [{"layers": 3, "edges": [[0, 1]]}, {"layers": 3, "edges": [[0, 1], [1, 2]]}]})";
    std::vector<densenas::Progress> reports;
    const densenas::String result = densenas::train(request, [&](const densenas::Progress &p) {
        reports.push_back(p);
        return false;
    });
    std::size_t members = 0;
    for (auto at = result.view().find("\"test_accuracy\":"); at != std::string_view::npos;
         at = result.view().find("\"test_accuracy\":", at + 1))
        ++members;
    CHECK(members == 4 && contains(result.view(), "\"interrupted\":false"));
    CHECK(reports.size() == 2 && reports[1].kind == densenas::ProgressKind::Train && reports[1].epoch == 1);
    CHECK(reports[0].epochs == 2 && std::isfinite(reports[0].loss));
    // Stopped at the first report; an exception from the callback comes back.
    const densenas::String stopped = densenas::train(request, [](const densenas::Progress &) { return true; });
    CHECK(contains(stopped.view(), "\"interrupted\":true") && contains(stopped.view(), "\"members\":[]"));
    bool caught = false;
    try {
        (void)densenas::train(request, [](const densenas::Progress &) -> bool { throw Boom(); });
    } catch (const Boom &) {
        caught = true;
    }
    CHECK(caught);
    try {
        (void)densenas::train(R"({"dags": [], "seeds": [0]})");
        CHECK(!"an empty list of DAGs accepted");
    } catch (const densenas::Error &e) {
        CHECK(e.status() == DENSENAS_STATUS_INVALID_CONFIG && contains(e.message(), "dags"));
    }
    std::printf("trained a population of 4: %zu members, %zu reports\n", members, reports.size());
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL.onnx RUN_DIR\n", argv[0]);
        return 2;
    }
    try {
        test_versions_and_one_definition();
        test_malformed_configurations();
        test_search_stops_when_asked();
        test_a_throwing_callback_stops_the_search_and_its_exception_comes_back();
        test_search_writes_a_run_folder(argv[2]);
        test_a_stop_on_each_kind_of_report();
        test_resume(std::string(argv[2]) + "-resume");
        test_train_a_population();
        test_session(argv[1]);
        test_session_save_and_load(std::string(argv[2]) + ".session");
    } catch (const std::exception &e) {
        std::fprintf(stderr, "FAILED: uncaught %s\n", e.what());
        return 1;
    }
    std::printf("all %d checks passed\n", checks::passed);
    return 0;
}
