// Privileges: the unprivileged uid/gid, every capability set emptied,
// no_new_privs, not dumpable.
#pragma once
#include "jail/policy.h"
#include "util/status.h"

namespace wj::jail {

// Takes on the sandbox uid/gid (and no supplementary groups). Inside a user
// namespace this keeps the namespace's capabilities, and comes before the
// mounts: files the child creates in its new root need an owner that is
// mapped in its namespace, and a root zygote's uid 0 is not.
Status SwitchToSandboxIds(const JailPolicy& policy);

// Empties every capability set, sets no_new_privs, makes the process not
// dumpable. Without a user namespace it switches the ids first.
Status DropPrivileges(const JailPolicy& policy);

// True when this process holds no capability in any set (read back with
// libcap): DropPrivileges' own check that emptying the sets took effect.
bool HoldsNoCapabilities();

}  // namespace wj::jail
