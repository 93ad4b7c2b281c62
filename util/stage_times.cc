#include "util/stage_times.h"

#include <ctime>

namespace wj {

void StageTimes::Mark(const char* name) {
  if (count >= kMax) return;
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  names[count] = name;
  at_ns[count++] = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

// An unnamed entry marks where the step began (after a wait that is not part
// of it); the zygote skips it when it reports the durations.
void StageTimes::Mark(const char* name, uint64_t previous_ns) {
  if (count >= kMax - 1 || previous_ns == 0) return Mark(name);
  names[count] = "";
  at_ns[count++] = previous_ns;
  Mark(name);
}

}  // namespace wj
