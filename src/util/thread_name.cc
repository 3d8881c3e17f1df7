#include "util/thread_name.h"

#include <pthread.h>

namespace cycas {

void NameThisThread(const std::string& name) {
  // Best effort: a name is a debugging aid, never worth failing over.
  (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace cycas
