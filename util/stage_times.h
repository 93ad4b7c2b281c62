// Monotonic timestamps of a sandbox child's set-up steps, for the per-stage
// cost the benchmark and the Server-Timing header report. Fixed-size: it is
// filled after fork and must not need the allocator to be interesting.
#pragma once
#include <cstdint>

namespace wj {

struct StageTimes {
  static constexpr int kMax = 16;
  const char* names[kMax] = {};
  uint64_t at_ns[kMax] = {};
  int count = 0;
  void Mark(const char* name);
  void Mark(const char* name, uint64_t previous_ns);  // the step began at previous_ns
};

}  // namespace wj
