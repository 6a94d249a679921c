/*
 * densenas.hpp: a header-only C++17 layer over the C API of libdensenas.so
 * (include/densenas.h).
 *
 * - Every handle (Dataset, Space, Session) and every string the library allocates
 *   (String) is a move-only class holding a std::unique_ptr whose deleter is the
 *   matching densenas_*_free: it is freed exactly once, when its owner goes away.
 *   A moved-from object holds nothing; calling it throws Error with
 *   DENSENAS_STATUS_NULL_PARAMETER.
 * - A failed call throws densenas::Error, carrying the library's status and its
 *   message word for word. Since outputs are written only on success, nothing needs
 *   resetting after an exception; a failed session call leaves the session unchanged.
 * - Thread safety is the C API's: a Dataset and a Space may be shared between
 *   threads; a Session serialises its calls (one at a time); error messages are per
 *   thread.
 *
 * Build against the library with `-Iinclude -Ibindings/cpp -ldensenas`; see
 * bindings/README.md and examples/cpp/search_digits.cpp.
 */
#ifndef DENSENAS_HPP
#define DENSENAS_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "densenas.h"

namespace densenas {

/// A status code (`densenas_status`); an Error never carries DENSENAS_STATUS_OK.
using Status = densenas_status;

/// The library's version, for example "0.1.0" (a static string).
[[nodiscard]] inline const char *version() noexcept { return densenas_version(); }

/// The name of a status, for example "DENSENAS_STATUS_INVALID_INPUT" (a static string).
[[nodiscard]] inline const char *status_name(Status status) noexcept {
  return densenas_status_name(static_cast<std::uint32_t>(status));
}

/// The calling thread's last error message ("" if no call has failed on it).
[[nodiscard]] inline std::string last_error_message() {
  std::size_t n = densenas_last_error_message(nullptr, 0);
  std::vector<char> buf(n + 1);
  n = densenas_last_error_message(buf.data(), buf.size());
  return std::string(buf.data(), n < buf.size() ? n : buf.size() - 1);
}

/// A failed call: the library's status and its message. `what()` is
/// "STATUS_NAME: message".
class Error : public std::runtime_error {
 public:
  Error(Status status, std::string message)
      : std::runtime_error(std::string(densenas::status_name(status)) + ": " + message),
        status_(status),
        message_(std::move(message)) {}

  /// The library's status code.
  [[nodiscard]] Status status() const noexcept { return status_; }
  /// The status's name, for example "DENSENAS_STATUS_INVALID_CONFIG".
  [[nodiscard]] const char *status_name() const noexcept { return densenas::status_name(status_); }
  /// The library's message, word for word.
  [[nodiscard]] const std::string &message() const noexcept { return message_; }

 private:
  Status status_;
  std::string message_;
};

namespace detail {

/// Throws the Error of a failed call (read on the thread that made the call).
inline void check(densenas_status status) {
  if (status != DENSENAS_STATUS_OK) throw Error(status, last_error_message());
}

struct StringDeleter {
  void operator()(char *s) const noexcept { densenas_string_free(s); }
};
struct DatasetDeleter {
  void operator()(densenas_dataset *d) const noexcept { densenas_dataset_free(d); }
};
struct SpaceDeleter {
  void operator()(densenas_space *s) const noexcept { densenas_space_free(s); }
};
struct SessionDeleter {
  void operator()(densenas_session *s) const noexcept { densenas_session_free(s); }
};

}  // namespace detail

/// A NUL-terminated string the library allocated (freed with densenas_string_free).
class String {
 public:
  String() noexcept = default;
  /// Takes ownership of a string the library returned.
  explicit String(char *owned) noexcept : ptr_(owned) {}

  /// The string ("" when empty or moved from); valid while this object lives.
  [[nodiscard]] const char *c_str() const noexcept { return ptr_ ? ptr_.get() : ""; }
  [[nodiscard]] std::string_view view() const noexcept { return c_str(); }
  [[nodiscard]] std::string str() const { return c_str(); }
  operator std::string_view() const noexcept { return view(); }
  /// Gives up ownership: the caller must free the result with densenas_string_free.
  [[nodiscard]] char *release() noexcept { return ptr_.release(); }

 private:
  std::unique_ptr<char, detail::StringDeleter> ptr_;
};

/// The splits of a dataset (`densenas_split`).
enum class Split : std::uint32_t {
  Train = DENSENAS_SPLIT_TRAIN,            ///< the whole training file
  Weight = DENSENAS_SPLIT_WEIGHT,          ///< weight steps
  Validation = DENSENAS_SPLIT_VALIDATION,  ///< architecture steps, judging blocks
  Test = DENSENAS_SPLIT_TEST,              ///< the test file (or fixed test split)
};

/// A borrowed view of `n` labelled rows: `x` holds `n * features` raw features
/// (row-major), `y` holds `n` labels. Neither is owned: a view lent by a Dataset is
/// valid while the dataset lives.
struct Rows {
  const float *x = nullptr;
  const std::int64_t *y = nullptr;
  std::size_t n = 0;
  std::size_t features = 0;

  /// The number of features `x` holds (`n * features`: the `x_len` of the C calls).
  [[nodiscard]] std::size_t x_len() const noexcept { return n * features; }
  /// Rows `start .. start + count`; throws std::out_of_range past the end.
  [[nodiscard]] Rows slice(std::size_t start, std::size_t count) const {
    if (start > n || count > n - start) throw std::out_of_range("densenas::Rows::slice past the end");
    return Rows{x + start * features, y + start, count, features};
  }
};

/// A dataset with its splits (`densenas_dataset`). Immutable once loaded: may be read
/// from several threads at once.
class Dataset {
 public:
  /// Loads a dataset from a spec as `densenas search --data` takes it (`digits`,
  /// `idx:DIR`, `cifar:DIR`, `images:PATH`, `csv:TRAIN[,TEST]`), its training file split
  /// into weight and validation splits as a search with `seed` and `val_fraction` would.
  explicit Dataset(const std::string &spec, double val_fraction = 0.5, std::uint64_t seed = 0) {
    densenas_dataset *out = nullptr;
    detail::check(densenas_dataset_load(spec.c_str(), val_fraction, seed, &out));
    ptr_.reset(out);
  }

  /// The number of input features F.
  [[nodiscard]] std::size_t features() const { return shape().first; }
  /// The number of classes C.
  [[nodiscard]] std::size_t classes() const { return shape().second; }
  /// (features F, classes C).
  [[nodiscard]] std::pair<std::size_t, std::size_t> shape() const {
    std::size_t f = 0, c = 0;
    detail::check(densenas_dataset_shape(ptr_.get(), &f, &c));
    return {f, c};
  }

  /// Lends one split: valid while this dataset lives (no copy is made).
  [[nodiscard]] Rows split(Split which) const {
    const float *x = nullptr;
    const std::int64_t *y = nullptr;
    std::size_t n = 0;
    detail::check(densenas_dataset_split(ptr_.get(), static_cast<std::uint32_t>(which), &x, &y, &n));
    return Rows{x, y, n, features()};
  }

  /// The C handle (still owned by this object).
  [[nodiscard]] const densenas_dataset *get() const noexcept { return ptr_.get(); }

 private:
  std::unique_ptr<densenas_dataset, detail::DatasetDeleter> ptr_;
};

/// A validated search space (`densenas_space`). Immutable once made: may be shared
/// between threads and used by several sessions at once.
class Space {
 public:
  /// Makes a space from its JSON configuration (`features`, `classes`, `layers`,
  /// `width`, `blocks`, `max_skip`, optional `activation`, `aggregation`, `norm`,
  /// `min_edges`, `max_edges`; a typed space adds `shape`, `ops`, `input_shape` and
  /// `stem`). Throws Error (DENSENAS_STATUS_INVALID_CONFIG) for
  /// malformed JSON, unknown keys and values out of range.
  explicit Space(const std::string &config_json) {
    densenas_space *out = nullptr;
    detail::check(densenas_space_new(config_json.c_str(), &out));
    ptr_.reset(out);
  }

  /// The number of input features F.
  [[nodiscard]] std::size_t features() const {
    std::size_t out = 0;
    detail::check(densenas_space_features(ptr_.get(), &out));
    return out;
  }
  /// The number of classes C.
  [[nodiscard]] std::size_t classes() const {
    std::size_t out = 0;
    detail::check(densenas_space_classes(ptr_.get(), &out));
    return out;
  }

  /// The C handle (still owned by this object).
  [[nodiscard]] const densenas_space *get() const noexcept { return ptr_.get(); }

 private:
  std::unique_ptr<densenas_space, detail::SpaceDeleter> ptr_;
};

/// Accuracy and mean cross-entropy (Session::evaluate).
struct Evaluation {
  double accuracy;
  double loss;
};

/// A search session (`densenas_session`): `k` blocks over shared weights, `alpha`, the
/// strategy, the DAG density and the history. It keeps what it needs of its space and
/// dataset, which may be destroyed first. Calls are serialised by the library: a
/// session may be used from several threads, one call at a time.
///
/// Features are raw and row-major; `x_len` must equal `batch * F` and labels lie in
/// `0..C`, else Error (DENSENAS_STATUS_INVALID_INPUT) and the session is unchanged.
class Session {
 public:
  /// A session over `space` with options JSON (`strategy`, `seed`, optimisers,
  /// `density`, `precision`, `device`, `deterministic`); the input normalisation is the identity.
  explicit Session(const Space &space, const std::string &options_json = "{}") {
    densenas_session *out = nullptr;
    detail::check(densenas_session_new(space.get(), options_json.c_str(), &out));
    adopt(out, space);
  }

  /// As above, with the input normalisation taken from the training file of `dataset`,
  /// as a search on it does.
  Session(const Space &space, const std::string &options_json, const Dataset &dataset) {
    densenas_session *out = nullptr;
    detail::check(densenas_session_new_for_dataset(space.get(), options_json.c_str(), dataset.get(), &out));
    adopt(out, space);
  }

  /// Loads a session saved with save() (densenas_session_load). Throws Error for a
  /// missing, truncated or damaged file, or one of another densenas version.
  [[nodiscard]] static Session load(const std::string &path) {
    densenas_session *out = nullptr;
    detail::check(densenas_session_load(path.c_str(), &out));
    return Session(out);
  }

  /// Saves the whole session to one file (densenas_session_save); a loaded copy
  /// continues with exactly the losses this one would have.
  void save(const std::string &path) const { detail::check(densenas_session_save(ptr_.get(), path.c_str())); }

  /// One weight step on a batch of the weight split; the loss before the update.
  float step_weights(const float *x, std::size_t x_len, const std::int64_t *y, std::size_t batch) {
    float loss = 0.0f;
    detail::check(densenas_session_step_weights(ptr_.get(), x, x_len, y, batch, &loss));
    return loss;
  }
  float step_weights(const Rows &rows) { return step_weights(rows.x, rows.x_len(), rows.y, rows.n); }

  /// One architecture step on a batch of the validation split; the loss before the update.
  float step_architecture(const float *x, std::size_t x_len, const std::int64_t *y, std::size_t batch) {
    float loss = 0.0f;
    detail::check(densenas_session_step_architecture(ptr_.get(), x, x_len, y, batch, &loss));
    return loss;
  }
  float step_architecture(const Rows &rows) { return step_architecture(rows.x, rows.x_len(), rows.y, rows.n); }

  /// Tells the session how far into the current phase it is (`fraction` in [0, 1]; it
  /// restarts at 0 when a phase ends). The annealed temperatures of `gdas` and `snas`
  /// follow it: when stepping by hand, set it before each step, as search() does.
  void set_progress(double fraction) { detail::check(densenas_session_set_progress(ptr_.get(), fraction)); }

  /// Sets the learning rate of the shared weights for the next weight steps (when
  /// stepping by hand, apply your schedule with it; search() applies the configured one).
  void set_learning_rate(double lr) { detail::check(densenas_session_set_learning_rate(ptr_.get(), lr)); }

  /// Ends the phase: judges every block on the validation data, records the history,
  /// updates the density and draws the next blocks; the best validation accuracy so far.
  double end_phase(const float *x, std::size_t x_len, const std::int64_t *y, std::size_t batch) {
    double best = 0.0;
    detail::check(densenas_session_end_phase(ptr_.get(), x, x_len, y, batch, &best));
    return best;
  }
  double end_phase(const Rows &rows) { return end_phase(rows.x, rows.x_len(), rows.y, rows.n); }

  /// Accuracy and mean cross-entropy of the network the session stands for: the best
  /// architecture so far (its inherited snapshot), or the block with the largest
  /// weight before any phase has ended.
  [[nodiscard]] Evaluation evaluate(const float *x, std::size_t x_len, const std::int64_t *y,
                                    std::size_t batch) const {
    Evaluation e{0.0, 0.0};
    detail::check(densenas_session_evaluate(ptr_.get(), x, x_len, y, batch, &e.accuracy, &e.loss));
    return e;
  }
  [[nodiscard]] Evaluation evaluate(const Rows &rows) const { return evaluate(rows.x, rows.x_len(), rows.y, rows.n); }

  /// Logits, `batch * C` floats row-major, of the network the session stands for.
  [[nodiscard]] std::vector<float> predict(const float *x, std::size_t x_len, std::size_t batch) const {
    std::vector<float> logits(batch * classes_);
    detail::check(densenas_session_predict(ptr_.get(), x, x_len, batch, logits.data(), logits.size()));
    return logits;
  }
  [[nodiscard]] std::vector<float> predict(const Rows &rows) const { return predict(rows.x, rows.x_len(), rows.n); }

  /// The number of blocks k.
  [[nodiscard]] std::size_t blocks() const {
    std::size_t k = 0;
    detail::check(densenas_session_blocks(ptr_.get(), &k));
    return k;
  }

  /// The architecture weights of the current blocks (k of them).
  [[nodiscard]] std::vector<double> alpha() const {
    std::vector<double> out(blocks());
    detail::check(densenas_session_alpha(ptr_.get(), out.data(), out.size()));
    return out;
  }

  /// The best architecture so far as JSON: `{"layers", "edges", "phase", "block",
  /// "val_accuracy", "metrics"}`.
  [[nodiscard]] String best_dag_json() const {
    char *json = nullptr;
    detail::check(densenas_session_best_dag_json(ptr_.get(), &json));
    return String(json);
  }

  /// Exports the network the session stands for to an ONNX file (written whole or not
  /// at all).
  void export_onnx(const std::string &path) const {
    detail::check(densenas_session_export_onnx(ptr_.get(), path.c_str()));
  }

  /// The space's number of input features F.
  [[nodiscard]] std::size_t features() const noexcept { return features_; }
  /// The space's number of classes C.
  [[nodiscard]] std::size_t classes() const noexcept { return classes_; }
  /// The C handle (still owned by this object).
  [[nodiscard]] densenas_session *get() const noexcept { return ptr_.get(); }

 private:
  explicit Session(densenas_session *out) {
    ptr_.reset(out);
    detail::check(densenas_session_shape(out, &features_, &classes_));
  }

  void adopt(densenas_session *out, const Space &space) {
    ptr_.reset(out);
    features_ = space.features();
    classes_ = space.classes();
  }

  std::unique_ptr<densenas_session, detail::SessionDeleter> ptr_;
  std::size_t features_ = 0;
  std::size_t classes_ = 0;
};

/// What a progress report is about (`densenas_progress_kind`).
enum class ProgressKind : std::uint32_t {
  Epoch = DENSENAS_PROGRESS_EPOCH,      ///< an epoch of a search phase ended
  Phase = DENSENAS_PROGRESS_PHASE,      ///< a search phase ended
  Retrain = DENSENAS_PROGRESS_RETRAIN,  ///< an epoch of retraining ended
  Step = DENSENAS_PROGRESS_STEP,        ///< a step of a search phase ended (RunOptions::step_reports)
  Train = DENSENAS_PROGRESS_TRAIN,      ///< an epoch of train() ended (loss: the members' mean)
};

/// A progress report (`densenas_progress`); NaN marks a figure that does not apply.
struct Progress {
  ProgressKind kind;
  std::size_t phase;  ///< phase (from 0); for retraining 0: the best DAG, 1: the baseline
  std::size_t epoch;  ///< epoch (from 0) within the phase or the retraining; a Step report's step
  std::size_t epochs;  ///< epochs in the phase or the retraining; a Step report's steps in the phase
  double loss;       ///< mean weight-step (or training) loss of the epoch; a Step report's batch loss
  double arch_loss;  ///< mean architecture-step loss of the epoch; a Step report's batch loss
  double best_val_accuracy;
};

/// Called after each epoch, phase and retraining epoch (and step, when asked); return
/// true to stop the search. It is not called again once it asked to stop.
using ProgressCallback = std::function<bool(const Progress &)>;

namespace detail {

struct SearchContext {
  const ProgressCallback *callback;
  std::exception_ptr error;
};

// No exception may unwind into the library: it is kept, the search told to stop, and
// rethrown by search() once the library has returned.
inline std::int32_t progress_trampoline(const densenas_progress *p, void *user_data) noexcept {
  auto *context = static_cast<SearchContext *>(user_data);
  if (context->error) return 1;
  try {
    Progress report{static_cast<ProgressKind>(p->kind), p->phase, p->epoch, p->epochs,
                    p->loss, p->arch_loss, p->best_val_accuracy};
    return (*context->callback)(report) ? 1 : 0;
  } catch (...) {
    context->error = std::current_exception();
    return 1;
  }
}

}  // namespace detail

/// Options of a search run (densenas_search_run_with_options).
struct RunOptions {
  bool resume = false;            ///< continue the search in out_dir from its latest checkpoint
  bool keep_checkpoints = false;  ///< keep out_dir/checkpoints when the search finishes
  bool step_reports = false;      ///< report every step (ProgressKind::Step)
  bool overwrite = false;         ///< replace a finished run in out_dir (refused otherwise)

  [[nodiscard]] std::string to_json() const {
    auto b = [](bool v) { return v ? "true" : "false"; };
    return std::string("{\"resume\": ") + b(resume) + ", \"keep_checkpoints\": " + b(keep_checkpoints) +
           ", \"step_reports\": " + b(step_reports) + ", \"overwrite\": " + b(overwrite) + "}";
  }
};

namespace detail {

inline String run_search(const char *config_json, const char *out_dir, const ProgressCallback &progress,
                         const RunOptions &options) {
  SearchContext context{&progress, nullptr};
  char *summary = nullptr;
  const std::string options_json = options.to_json();
  densenas_status status = densenas_search_run_with_options(
      config_json, out_dir, options_json.c_str(), progress ? progress_trampoline : nullptr, &context, &summary);
  String owned(summary);  // freed even when the callback's exception is rethrown
  if (context.error) std::rethrow_exception(context.error);
  check(status);
  return owned;
}

}  // namespace detail

/// Runs a whole search and returns its summary (`summary.json`'s content). `config_json`
/// has the keys of a run folder's `config.json` ("{}": the defaults, a search on the
/// embedded digits); with `out_dir` the run folder (summary, history, `best.onnx`, ...)
/// is written there, with a checkpoint after every complete phase; a folder holding a
/// finished run is refused (DENSENAS_STATUS_INVALID_STATE) unless `options.overwrite`.
/// `progress` is called on the calling thread; returning true stops the search (the
/// summary is then marked `"interrupted": true`). An exception thrown by `progress`
/// stops the search too and is rethrown here.
[[nodiscard]] inline String search(const std::string &config_json,
                                   const std::optional<std::string> &out_dir = std::nullopt,
                                   const ProgressCallback &progress = nullptr, const RunOptions &options = {}) {
  return detail::run_search(config_json.c_str(), out_dir ? out_dir->c_str() : nullptr, progress, options);
}

/// Continues the search in the run folder `out_dir` from its latest checkpoint, with the
/// configuration it was started with, and returns its summary (with a "resumed" entry).
[[nodiscard]] inline String resume(const std::string &out_dir, const ProgressCallback &progress = nullptr,
                                   RunOptions options = {}) {
  options.resume = true;
  return detail::run_search(nullptr, out_dir.c_str(), progress, options);
}

/// Trains a list of DAGs with a list of seeds as one population (densenas_train) and
/// returns the result's JSON: `{"members": [...], "train_seconds", "interrupted"}`, one
/// member per DAG and seed (DAG-major) with its scores, or `"failed"` and why.
/// `request_json` holds `"dags"` and optionally `"seeds"`, `"data"`, `"space"`,
/// `"train"`, `"device"`, `"precision"` (the header documents them). `progress` gets a
/// ProgressKind::Train report after every epoch; returning true stops the training (the
/// result is then marked `"interrupted": true` and lists no member). An exception
/// thrown by `progress` stops it too and is rethrown here.
[[nodiscard]] inline String train(const std::string &request_json, const ProgressCallback &progress = nullptr) {
  detail::SearchContext context{&progress, nullptr};
  char *result = nullptr;
  densenas_status status =
      densenas_train(request_json.c_str(), progress ? detail::progress_trampoline : nullptr, &context, &result);
  String owned(result);  // freed even when the callback's exception is rethrown
  if (context.error) std::rethrow_exception(context.error);
  detail::check(status);
  return owned;
}

}  // namespace densenas

#endif  // DENSENAS_HPP
