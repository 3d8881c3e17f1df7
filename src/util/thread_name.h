// Names the calling thread (as `top -H`, `perf` and debuggers show it), so an
// operator can tell a stripe's flusher from an event loop at a glance.
#pragma once

#include <string>

namespace cycas {

// Linux keeps at most 15 characters; longer names are cut.
void NameThisThread(const std::string& name);

}  // namespace cycas
