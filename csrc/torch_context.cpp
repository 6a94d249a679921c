// libtorch's process-wide settings that tch does not expose: deterministic algorithms
// and the float32 precision of CUDA matrix products and convolutions. Each function
// catches every exception (none may cross into Rust) and returns 0 on success, or -1
// with the message in `err` (NUL-terminated, truncated to `len` bytes).
#include <ATen/Context.h>

#include <cstring>
#include <exception>

namespace {
int fail(const char* what, char* err, size_t len) {
  if (err != nullptr && len > 0) {
    std::strncpy(err, what, len - 1);
    err[len - 1] = '\0';
  }
  return -1;
}

// Runs `f`, turning any exception into -1 and its message.
template <typename F>
int guarded(F f, char* err, size_t len) {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    return fail(e.what(), err, len);
  } catch (...) {
    return fail("unknown C++ exception", err, len);
  }
}
}  // namespace

extern "C" {

// libtorch's deterministic algorithms (an error for an operation without a
// deterministic implementation) and cuDNN's deterministic, non-benchmarking mode.
int densenas_torch_set_deterministic(int on, char* err, size_t len) {
  return guarded(
      [on] {
        auto& ctx = at::globalContext();
        ctx.setDeterministicAlgorithms(on != 0, false);
        ctx.setDeterministicCuDNN(on != 0);
        if (on != 0) ctx.setBenchmarkCuDNN(false);
      },
      err, len);
}

int densenas_torch_deterministic(void) {
  try {
    return at::globalContext().deterministicAlgorithms() ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

// TF32 (on) or IEEE float32 (off) for CUDA matrix products and convolutions.
int densenas_torch_set_cuda_tf32(int on, char* err, size_t len) {
  return guarded(
      [on] {
        auto& ctx = at::globalContext();
        auto p = on != 0 ? at::Float32Precision::TF32 : at::Float32Precision::IEEE;
        ctx.setFloat32Precision(at::Float32Backend::CUDA, at::Float32Op::MATMUL, p);
        ctx.setFloat32Precision(at::Float32Backend::CUDA, at::Float32Op::CONV, p);
      },
      err, len);
}

int densenas_torch_cuda_tf32(void) {
  try {
    auto& ctx = at::globalContext();
    return ctx.float32Precision(at::Float32Backend::CUDA, at::Float32Op::MATMUL) == at::Float32Precision::TF32 ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

}  // extern "C"
