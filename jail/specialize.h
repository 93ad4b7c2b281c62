// The order of the jail in one process, as the probe runs it: a child is
// created by CloneChild, finished from outside by InitChildFromParent, and
// specializes itself with Specialize. Sandboxes that serve split the same
// steps between a nest's init and the worker forked into it (jail/nest.h);
// both end with LockDown, the steps every process of a sandbox takes last.
#pragma once
#include <sys/types.h>

#include <vector>

#include "jail/policy.h"
#include "util/stage_times.h"
#include "util/status.h"

namespace wj::jail {

// Creates the child in the policy's namespaces. Returns 0 in the child, the
// pid in the parent, -1 with errno set on failure.
pid_t CloneChild(const JailPolicy& policy);

// Zygote side, while the child waits on its release pipe: uid/gid maps and
// the child's cgroups (`cgroup_procs`: cgroup.procs fds opened for writing).
Status InitChildFromParent(pid_t child, const JailPolicy& policy, const std::vector<int>& cgroup_procs);

// Child side: the whole recipe, in order. Any error is fatal: the caller
// reports it on *report_fd, the hand-over socket (fds.spare_fd, which moves
// to kSpareFd once the descriptors are rearranged; the zygote reads it there
// and logs it), and exits without running user code.
Status Specialize(const JailPolicy& policy, const ChildLimits& limits, const ChildFds& fds, int release_fd,
                  int* report_fd, StageTimes* times);

// Steps 5 to 7, the end of every process of a sandbox (Specialize, the
// nest's init, the worker's EnterNest): no capability, no_new_privs, not
// dumpable; the fixed environment; the seccomp filter, last.
Status LockDown(const JailPolicy& policy, StageTimes* times);

}  // namespace wj::jail
