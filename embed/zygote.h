// The zygote: a single-threaded process, exec'd fresh by the server, that
// holds a warm interpreter (numpy and pandas imported) and keeps a few
// children ready: forked, jailed and warmed before any request exists, so a
// job only has to be handed over. It never runs user code itself.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "jail/policy.h"

namespace wj::embed {

enum class Mode { kZygote, kCold };

struct ZygoteOptions {
  int control_fd = -1;
  Mode mode = Mode::kZygote;
  jail::Layers layers;  // what the server wants; the probe says what works
  uid_t sandbox_uid = 65534;
  gid_t sandbox_gid = 65534;
  // Children kept forked, specialized and warmed, waiting for a job. Cold
  // mode keeps none: each job pays for its child and interpreter.
  unsigned spares = 2;
  // The server's maxima; a job lowers them for its own child.
  uint64_t memory_bytes = 512ull << 20;
  uint32_t cpu_seconds = 30;
  uint64_t tmp_bytes = 64ull << 20;
  uint32_t max_procs = 32;
  // The cgroup hierarchy the server set up (version 0: none).
  int cgroup_version = 0;
  std::string cgroup_memory_base;
  std::string cgroup_pids_base;
};

// Runs until the server closes the control socket. Returns the exit code.
int ZygoteMain(const ZygoteOptions& options);

// Exit codes a child uses when it never reached user code.
inline constexpr int kExitSetupFailed = 121;
inline constexpr int kExitRunnerFailed = 122;

}  // namespace wj::embed
