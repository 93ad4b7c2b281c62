// Privileges: the unprivileged uid/gid, every capability set emptied,
// no_new_privs, not dumpable.
#pragma once
#include "jail/policy.h"
#include "jail/status.h"

namespace wj::jail {

Status DropPrivileges(const JailPolicy& policy);

// True when this process holds no capability in any set (read back with
// libcap; used by the probe and by tests).
bool HoldsNoCapabilities();

}  // namespace wj::jail
