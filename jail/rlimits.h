// Resource limits the child sets on itself, at the last moment before it
// gives up the privilege to raise them again.
#pragma once
#include "jail/policy.h"
#include "util/status.h"

namespace wj::jail {

Status ApplyRlimits(const ChildLimits& limits);

}  // namespace wj::jail
