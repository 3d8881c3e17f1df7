// Helpers shared by the network suites (fault, load): blob contents derived
// from a seed, so a driver keeps 16 bytes per blob instead of the blob, and
// integer knobs read from the environment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cycas::test {

// `n` bytes that depend only on (seed, n): incompressible, and different for
// every seed.
std::string SeededBytes(uint64_t seed, size_t n);

// The integer in environment variable `name`, or `def` when it is unset or empty.
int EnvInt(const char* name, int def);

}  // namespace cycas::test
