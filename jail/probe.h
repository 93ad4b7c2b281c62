// The start-up probe: each isolation layer tried for real in a throw-away
// child, cumulatively in the recipe's order, so the first failure names the
// layer and the syscall that is missing on this host.
#pragma once
#include <string>
#include <vector>

#include "jail/layers.h"
#include "jail/policy.h"

namespace wj::jail {

class CgroupManager;

struct LayerReport {
  Layer layer = Layer::kNamespaces;
  bool active = false;
  std::string detail;     // what failed, or what the layer consists of
  std::string mechanism;  // memory accounting only: "cgroup" or "rlimit"

  bool operator==(const LayerReport&) const = default;
};

// Tries policy's layers and returns one report per layer. A layer is only
// tried when the ones before it work. Runs in the zygote before Python starts.
// Where only the /proc mount fails (a masked host /proc), the filesystem
// layer is kept without /proc and policy->mount_proc is turned off.
std::vector<LayerReport> ProbeLayers(JailPolicy* policy);

// How memory is limited: by `cgroups` where the host delegates them, else
// (null) by RLIMIT_AS above the zygote's footprint and RLIMIT_NPROC, with
// `why_no_cgroup` saying why. Always active: one of the two is in force.
LayerReport MemoryAccountingReport(const CgroupManager* cgroups, const std::string& why_no_cgroup);

}  // namespace wj::jail
