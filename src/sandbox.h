// One request through one sandbox: the pipes and memfd handed to the zygote,
// the wait with a deadline, the kill on timeout, and the observation
// Interpret() turns into an outcome (the sandbox's cgroup is the zygote's).
#pragma once
#include <string>

#include "src/config.h"
#include "src/contract.h"
#include "src/metrics.h"
#include "src/zygote_client.h"

namespace wj {

class Sandbox {
 public:
  Sandbox(ZygoteClient* zygote, Metrics* metrics) : zygote_(zygote), metrics_(metrics) {}

  // Returns as soon as the outcome is known. That can be before the child is
  // torn down (a complete document arrived): `job` is then still running its
  // exit, and the caller keeps the sandbox slot until job->Finished().
  SandboxResult Run(const ExecuteRequest& request, const EffectiveLimits& limits, std::shared_ptr<Job>* job);

 private:
  ZygoteClient* zygote_;
  Metrics* metrics_;
};

}  // namespace wj
