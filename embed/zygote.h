// The zygote: a single-threaded process, exec'd fresh by the server, that
// holds a warm interpreter (numpy and pandas imported) and forks one
// specialized child per job. It never runs user code itself.
#pragma once
#include <sys/types.h>

#include "jail/policy.h"

namespace wj::embed {

enum class Mode { kZygote, kCold };

struct ZygoteOptions {
  int control_fd = -1;
  Mode mode = Mode::kZygote;
  jail::Layers layers;  // what the server wants; the probe says what works
  uid_t sandbox_uid = 65534;
  gid_t sandbox_gid = 65534;
};

// Runs until the server closes the control socket. Returns the exit code.
int ZygoteMain(const ZygoteOptions& options);

// Exit codes a child uses when it never reached user code.
inline constexpr int kExitSetupFailed = 121;
inline constexpr int kExitRunnerFailed = 122;

}  // namespace wj::embed
