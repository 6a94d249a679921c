// What the two translation units of the C++ binding test share: a CHECK that counts and
// reports, and the functions each unit gives the other.
#ifndef DENSENAS_TESTS_CPP_CHECKS_HPP
#define DENSENAS_TESTS_CPP_CHECKS_HPP

#include <cstdio>
#include <cstdlib>
#include <string>

namespace checks {

// One counter for the whole program (an inline variable: the same in both units).
inline int passed = 0;

inline void check(bool ok, const char *what, const char *file, int line) {
    if (!ok) {
        std::fprintf(stderr, "FAILED %s:%d: %s\n", file, line, what);
        std::exit(1);
    }
    ++passed;
}

}  // namespace checks

#define CHECK(cond) ::checks::check((cond), #cond, __FILE__, __LINE__)

// From session.cpp: a session-level search on the digits, its predictions, errors and
// export to `onnx_path`; prints "test accuracy A" and "exported PATH".
void test_session(const std::string &onnx_path);

// From session.cpp: a session saved to `path` and loaded goes on with the same losses.
void test_session_save_and_load(const std::string &path);

// Addresses of the header's inline functions as session.cpp sees them (the ODR: one
// definition, so one address, in the whole program).
using LastErrorFn = std::string (*)();
using CheckFn = void (*)(densenas_status);
LastErrorFn session_unit_last_error_message();
CheckFn session_unit_check();

#endif
