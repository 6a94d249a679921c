// The C++ binding, translation unit 1 of 2: a session driven step by step on the
// digits, with its predictions, architecture weights, errors and export.
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "densenas.hpp"

#include "checks.hpp"

// Handles and strings are move-only: one owner, freed once.
static_assert(!std::is_copy_constructible_v<densenas::Session> && !std::is_copy_assignable_v<densenas::Session>);
static_assert(!std::is_copy_constructible_v<densenas::Space> && !std::is_copy_assignable_v<densenas::Space>);
static_assert(!std::is_copy_constructible_v<densenas::Dataset> && !std::is_copy_assignable_v<densenas::Dataset>);
static_assert(!std::is_copy_constructible_v<densenas::String> && !std::is_copy_assignable_v<densenas::String>);
static_assert(std::is_nothrow_move_constructible_v<densenas::Session> && std::is_nothrow_move_assignable_v<densenas::Session>);
static_assert(std::is_nothrow_move_constructible_v<densenas::Space> && std::is_nothrow_move_assignable_v<densenas::Space>);
static_assert(std::is_nothrow_move_constructible_v<densenas::Dataset> && std::is_nothrow_move_assignable_v<densenas::Dataset>);
static_assert(std::is_nothrow_move_constructible_v<densenas::String> && std::is_nothrow_move_assignable_v<densenas::String>);
static_assert(std::is_base_of_v<std::runtime_error, densenas::Error>);

LastErrorFn session_unit_last_error_message() { return &densenas::last_error_message; }
CheckFn session_unit_check() { return &densenas::detail::check; }

namespace {

const char *const SPACE = R"({"features": 64, "classes": 10, "layers": 3, "width": 32, "blocks": 3})";

// Runs `call`, which must throw an Error with `status` whose message contains `needle`.
template <typename F>
void expect_error(F call, densenas::Status status, const std::string &needle) {
    try {
        call();
    } catch (const densenas::Error &e) {
        CHECK(e.status() == status);
        CHECK(e.message().find(needle) != std::string::npos);
        CHECK(e.message() == densenas::last_error_message());
        CHECK(std::string(e.what()) == std::string(e.status_name()) + ": " + e.message());
        std::printf("caught %s\n", e.what());
        return;
    }
    CHECK(!"no densenas::Error thrown");
}

std::size_t argmax(const float *row, std::size_t n) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < n; i++)
        if (row[i] > row[best]) best = i;
    return best;
}

}  // namespace

void test_session(const std::string &onnx_path) {
    densenas::Dataset data("digits", 0.5, 0);
    const densenas::Rows weight = data.split(densenas::Split::Weight);
    const densenas::Rows val = data.split(densenas::Split::Validation);
    const densenas::Rows test = data.split(densenas::Split::Test);
    CHECK(data.features() == 64 && data.classes() == 10);
    CHECK(weight.n + val.n == data.split(densenas::Split::Train).n && test.n == 359);

    std::optional<densenas::Session> session;
    std::optional<densenas::Session> twin;
    {
        densenas::Space space(SPACE);
        session.emplace(space, R"({"strategy": "darts", "seed": 1})", data);
        twin.emplace(space, R"({"strategy": "darts", "seed": 1})", data);
    }  // the space goes first: the sessions keep what they need
    CHECK(session->features() == 64 && session->classes() == 10 && session->blocks() == 3);

    // Bad inputs throw with the library's status and message, and change nothing.
    const densenas::Rows b = weight.slice(0, 16);
    std::vector<std::int64_t> bad_labels(b.y, b.y + b.n);
    bad_labels[3] = 10;
    std::vector<float> nan_x(b.x, b.x + b.x_len());
    nan_x[70] = std::nanf("");
    expect_error([&] { session->step_weights(b.x, b.x_len() - 1, b.y, b.n); }, DENSENAS_STATUS_INVALID_INPUT, "x_len");
    expect_error([&] { session->step_architecture(b.x, b.x_len(), bad_labels.data(), b.n); }, DENSENAS_STATUS_INVALID_INPUT,
                 "outside 0..10");
    expect_error([&] { session->step_weights(nan_x.data(), nan_x.size(), b.y, b.n); }, DENSENAS_STATUS_INVALID_INPUT, "NaN");
    expect_error([&] { (void)session->predict(b.x, b.x_len(), b.n + 1); }, DENSENAS_STATUS_INVALID_INPUT, "x_len");
    expect_error([&] { session->export_onnx("/nonexistent-dir/x.onnx"); }, DENSENAS_STATUS_IO, "/nonexistent-dir/x.onnx");
    expect_error([&] { session->set_progress(1.5); }, DENSENAS_STATUS_INVALID_INPUT, "outside [0, 1]");
    bool out_of_range = false;
    try {
        (void)b.slice(10, 7);
    } catch (const std::out_of_range &) {
        out_of_range = true;
    }
    CHECK(out_of_range);

    // The session goes on exactly as its twin, which never saw the bad calls.
    const std::size_t batch = 64;
    for (std::size_t i = 0; i < 3 * batch; i += batch) {
        CHECK(session->step_weights(weight.slice(i, batch)) == twin->step_weights(weight.slice(i, batch)));
        CHECK(session->step_architecture(val.slice(i, batch)) == twin->step_architecture(val.slice(i, batch)));
    }
    twin.reset();

    // DARTS+ with beta regularisation through the options JSON; refused for drnas.
    {
        densenas::Space space(SPACE);
        densenas::Session plus(space, R"({"strategy": "darts-plus", "beta_reg": 0.5, "seed": 1})", data);
        plus.set_progress(0.5);
        CHECK(std::isfinite(plus.step_weights(weight.slice(0, batch))));
        CHECK(std::isfinite(plus.step_architecture(val.slice(0, batch))));
        expect_error([&] { densenas::Session(space, R"({"strategy": "drnas", "beta_reg": 1})", data); },
                     DENSENAS_STATUS_INVALID_CONFIG, "beta_reg");
    }

    // A small search: two phases of four epochs.
    std::vector<double> alpha_before_end;
    double best = 0.0, previous_best = 0.0;
    for (int phase = 0; phase < 2; phase++) {
        float weight_loss = 0.0f, arch_loss = 0.0f;
        for (int epoch = 0; epoch < 4; epoch++) {
            for (std::size_t i = 0; i + batch <= weight.n && i + batch <= val.n; i += batch) {
                session->set_progress(static_cast<double>(epoch) / 4.0);
                weight_loss = session->step_weights(weight.slice(i, batch));
                arch_loss = session->step_architecture(val.slice(i, batch));
            }
        }
        CHECK(std::isfinite(weight_loss) && std::isfinite(arch_loss));
        alpha_before_end = session->alpha();
        best = session->end_phase(val);
        CHECK(best >= previous_best);
        previous_best = best;
        std::printf("phase %d: losses %.4f / %.4f, best validation accuracy %.4f\n", phase + 1,
                    static_cast<double>(weight_loss), static_cast<double>(arch_loss), best);
    }
    CHECK(best > 0.85);
    // alpha moved during the phase and restarts at 0 when it ends.
    CHECK(alpha_before_end.size() == 3);
    bool moved = false;
    for (double a : alpha_before_end) moved = moved || std::fabs(a) > 1e-3;
    CHECK(moved);
    for (double a : session->alpha()) CHECK(a == 0.0);

    // Predictions agree with the evaluation, on the validation split (where the best
    // was judged) and the test split.
    const densenas::Evaluation on_val = session->evaluate(val);
    CHECK(std::fabs(on_val.accuracy - best) < 1e-9);
    const densenas::Evaluation on_test = session->evaluate(test);
    const std::vector<float> logits = session->predict(test);
    CHECK(logits.size() == test.n * 10);
    std::size_t correct = 0;
    for (std::size_t i = 0; i < test.n; i++)
        if (argmax(&logits[i * 10], 10) == static_cast<std::size_t>(test.y[i])) correct++;
    CHECK(std::fabs(static_cast<double>(correct) / static_cast<double>(test.n) - on_test.accuracy) < 1e-12);
    CHECK(on_test.accuracy > 0.8 && on_test.loss > 0.0);

    const densenas::String dag = session->best_dag_json();
    CHECK(dag.view().find("\"edges\"") != std::string_view::npos);
    CHECK(dag.view().find("\"val_accuracy\"") != std::string_view::npos);
    std::printf("best DAG: %s\n", dag.c_str());

    // Ownership moves; the moved-from object holds nothing and says so.
    densenas::Session owner = std::move(*session);
    expect_error([&] { (void)session->blocks(); }, DENSENAS_STATUS_NULL_PARAMETER, "session");
    CHECK(owner.blocks() == 3 && owner.classes() == 10);

    owner.export_onnx(onnx_path);
    std::printf("test accuracy %.6f (loss %.4f)\n", on_test.accuracy, on_test.loss);
    std::printf("exported %s\n", onnx_path.c_str());
}

void test_session_save_and_load(const std::string &path) {
    densenas::Dataset data("digits", 0.5, 0);
    const densenas::Rows weight = data.split(densenas::Split::Weight);
    const densenas::Rows val = data.split(densenas::Split::Validation);
    densenas::Space space(SPACE);
    densenas::Session original(space, R"({"strategy": "gdas", "seed": 5})", data);
    const std::size_t f = data.features();
    auto steps = [&](densenas::Session &s, std::size_t from, std::size_t count) {
        std::vector<float> losses;
        for (std::size_t i = from; i < from + count; i++) {
            const std::size_t a = (i * 32) % (weight.n - 32), b = (i * 32) % (val.n - 32);
            losses.push_back(s.step_weights(weight.x + a * f, 32 * f, weight.y + a, 32));
            losses.push_back(s.step_architecture(val.x + b * f, 32 * f, val.y + b, 32));
        }
        return losses;
    };
    (void)steps(original, 0, 8);
    (void)original.end_phase(val);
    (void)steps(original, 8, 4);
    original.save(path);
    densenas::Session loaded = densenas::Session::load(path);
    CHECK(loaded.classes() == 10 && loaded.blocks() == 3);
    CHECK(steps(loaded, 12, 10) == steps(original, 12, 10));
    CHECK(loaded.alpha() == original.alpha());
    CHECK(loaded.end_phase(val) == original.end_phase(val));
    expect_error([&] { (void)densenas::Session::load(path + ".missing"); }, DENSENAS_STATUS_IO, ".missing");
    std::printf("saved and loaded session %s: the same losses, alpha and phase results\n", path.c_str());
}
