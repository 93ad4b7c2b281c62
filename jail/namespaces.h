// Namespaces: the child is created in new user, mount, PID, network, IPC and
// UTS namespaces (and unshares its cgroup namespace once it sits in its
// cgroup). Parent-side functions end in FromParent, as in nsjail.
#pragma once
#include <sys/types.h>

#include "jail/policy.h"
#include "util/status.h"

namespace wj::jail {

// Fills policy->outer_* for this process: a root zygote maps the sandbox ids
// to the same unprivileged ids outside (never to root, whose files would
// then count as the script's own); an unprivileged zygote can only map its
// own ids.
void SetOuterIds(JailPolicy* policy);

// Flags for clone(): the namespaces a child is born into.
unsigned long CloneFlags(const Layers& layers);

// Parent side: writes the child's setgroups, uid_map and gid_map so that
// policy.sandbox_uid/gid inside map to an unprivileged id outside.
Status InitUserNsFromParent(pid_t child, const JailPolicy& policy);

// Child side: hostname, and the cgroup namespace (after the parent has moved
// the child into its cgroup, so that cgroup becomes its root).
Status InitNs(const JailPolicy& policy);

// Without namespaces: a session of its own, so the server can kill the
// child's whole process group.
Status NewSession();

}  // namespace wj::jail
