// Every default of a sandbox's limits and identity, in one place: the
// server's Config (and so its --help and /health), the zygote's options and
// the jail's policy all start from these, so no two of them can disagree.
// Server-only settings (port, queue, connection limits) keep their defaults
// in src/config.h, their one home.
#pragma once
#include <cstdint>

namespace wj::jail::defaults {

// The uid and gid scripts run as inside their user namespace ("nobody").
inline constexpr uint32_t kSandboxUid = 65534;
inline constexpr uint32_t kTimeoutSeconds = 30;  // wall clock, and CPU time unless set apart
inline constexpr uint64_t kMemoryMb = 512;
inline constexpr uint32_t kMaxProcs = 32;  // processes and threads
inline constexpr uint64_t kTmpMb = 64;     // the private /tmp, and so the largest file
inline constexpr uint64_t kMaxOutputBytes = 1 << 20;  // stdout and stderr, each
inline constexpr uint64_t kMaxResultBytes = 16 << 20;

}  // namespace wj::jail::defaults
