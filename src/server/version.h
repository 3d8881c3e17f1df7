#pragma once

namespace cycas {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace cycas
