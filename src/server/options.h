// The server's configuration options: one table, used for parsing, --help and
// the sample configuration file (docs/cycas.example.toml is generated from it).
#pragma once

#include <vector>

#include "util/config.h"

namespace cycas::server {

std::vector<OptionSpec> ServerOptionSpecs();

}  // namespace cycas::server
