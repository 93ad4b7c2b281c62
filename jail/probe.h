// The start-up probe: each isolation layer tried for real in a throw-away
// child, cumulatively in the recipe's order, so the first failure names the
// layer and the syscall that is missing on this host.
#pragma once
#include <string>
#include <vector>

#include "jail/policy.h"

namespace wj::jail {

struct LayerReport {
  std::string name;    // "namespaces", "filesystem", "privileges", "seccomp"
  bool active = false;
  std::string detail;  // what failed, or what the layer consists of
};

// Tries policy's layers and returns one report per layer. A layer is only
// tried when the ones before it work. Runs in the zygote before Python starts.
// Where only the /proc mount fails (a masked host /proc), the filesystem
// layer is kept without /proc and policy->mount_proc is turned off.
std::vector<LayerReport> ProbeLayers(JailPolicy* policy);

}  // namespace wj::jail
