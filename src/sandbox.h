// One request through one sandbox: the pipes and memfd handed to the zygote,
// the child's cgroup, the wait with a deadline, the kill on timeout, and the
// observation Interpret() turns into an outcome.
#pragma once
#include <string>

#include "jail/cgroups.h"
#include "src/config.h"
#include "src/contract.h"
#include "src/metrics.h"
#include "src/zygote_client.h"

namespace wj {

class Sandbox {
 public:
  // `cgroups` may be null: memory is then limited with RLIMIT_AS.
  Sandbox(ZygoteClient* zygote, const jail::CgroupManager* cgroups, Metrics* metrics)
      : zygote_(zygote), cgroups_(cgroups), metrics_(metrics) {}

  SandboxResult Run(const ExecuteRequest& request, const EffectiveLimits& limits);

 private:
  ZygoteClient* zygote_;
  const jail::CgroupManager* cgroups_;
  Metrics* metrics_;
};

}  // namespace wj
