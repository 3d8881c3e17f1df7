// What a fuzz target does when one of its checks fails: print what was wrong,
// prefixed with the target's name, and abort, so that libFuzzer keeps the
// input that showed it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace cycas::fuzz {

[[noreturn]] inline void FailIn(std::string_view target, const std::string& what) {
  std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(target.size()), target.data(), what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace cycas::fuzz

// Fails, through the target's own Fail(const std::string&), with the text of
// `cond` and `msg` unless `cond` holds.
#define FUZZ_CHECK(cond, msg)                                            \
  do {                                                                   \
    if (!(cond)) Fail(std::string("check failed: " #cond ": ") + (msg)); \
  } while (0)
