#include "jail/specialize.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "jail/capabilities.h"
#include "jail/environment.h"
#include "jail/fds.h"
#include "jail/mounts.h"
#include "jail/namespaces.h"
#include "jail/rlimits.h"
#include "jail/seccomp.h"

namespace wj::jail {

namespace {
// glibc keeps the calling thread's id in its thread descriptor and uses it
// for raise(), abort() and pthread_kill(); its fork() has the kernel write
// the child's id there (CLONE_CHILD_SETTID). A raw clone must do the same or
// abort() in the child signals a thread that does not exist. The slot is
// found once by looking for our own tid in the descriptor; CloneChild only
// uses it when exactly one slot matches.
pid_t* FindCachedTid() {
  auto* self = reinterpret_cast<pid_t*>(::pthread_self());
  const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  pid_t* found = nullptr;
  for (size_t i = 0; i < 2048 / sizeof(pid_t); ++i) {
    if (self[i] != tid) continue;
    if (found) return nullptr;  // ambiguous
    found = &self[i];
  }
  return found;
}
}  // namespace

pid_t CloneChild(const JailPolicy& policy) {
  unsigned long flags = CloneFlags(policy.layers);
  if (flags == 0) return ::fork();
  // glibc's clone() wants a new stack and fork() takes no flags, so the raw
  // syscall is used with fork semantics (no stack: the child continues on a
  // copy of this one). Safe here because the zygote is single-threaded: no
  // lock can be held by a thread that does not exist in the child.
  static pid_t* const cached_tid = FindCachedTid();
  if (cached_tid != nullptr) flags |= CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
  return static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, cached_tid, nullptr));
}

Status InitChildFromParent(pid_t child, const JailPolicy& policy, const std::vector<int>& cgroup_procs) {
  if (policy.layers.namespaces) WJ_RETURN_IF_ERROR(InitUserNsFromParent(child, policy));
  const std::string pid = std::to_string(child);
  for (int fd : cgroup_procs) {
    if (::write(fd, pid.data(), pid.size()) != static_cast<ssize_t>(pid.size()))
      return Status::Errno("write(cgroup.procs, " + pid + ")");
  }
  return Status::Ok();
}

Status Specialize(const JailPolicy& policy, const ChildLimits& limits, const ChildFds& fds, int release_fd,
                  int* report_fd, StageTimes* times) {
  *report_fd = fds.spare_fd;
  // 1. Die with the zygote; wait until it has mapped our ids and placed us in
  //    our cgroup; keep only the pipes to the server.
  WJ_RETURN_IF_ERROR(DieWithParent());
  WJ_RETURN_IF_ERROR(WaitForRelease(release_fd));
  times->Mark("released");
  WJ_RETURN_IF_ERROR(KeepOnlyChildFds(fds));
  *report_fd = kSpareFd;
  // 2. Namespaces (born with them in CloneChild) or, without, a session the
  //    server can kill as a whole.
  if (policy.layers.namespaces) {
    WJ_RETURN_IF_ERROR(InitNs(policy));
    WJ_RETURN_IF_ERROR(SwitchToSandboxIds(policy));
    // A change of uid or gid clears the parent-death signal: set it again.
    WJ_RETURN_IF_ERROR(DieWithParent());
  } else {
    WJ_RETURN_IF_ERROR(NewSession());
  }
  times->Mark("namespaces");
  // 3. The filesystem: a fresh read-only root and a private /tmp.
  if (policy.layers.filesystem) {
    WJ_RETURN_IF_ERROR(BuildRoot(policy, limits.tmp_bytes));
  } else if (::chdir("/tmp") != 0) {
    return Status::Errno("chdir(/tmp)");
  }
  WJ_RETURN_IF_ERROR(OpenOwnStdin());
  times->Mark("mounts");
  // 4. Limits (the cgroup was joined from the parent before release).
  WJ_RETURN_IF_ERROR(ApplyRlimits(limits));
  times->Mark("rlimits");
  return LockDown(policy, times);
}

Status LockDown(const JailPolicy& policy, StageTimes* times) {
  // 5. No capabilities, no_new_privs (the unprivileged uid/gid came with the
  //    namespaces, before the mounts; see SwitchToSandboxIds).
  if (policy.layers.drop_privileges) WJ_RETURN_IF_ERROR(DropPrivileges(policy));
  times->Mark("privileges");
  // 6. The fixed environment (random state is reseeded by the runner).
  WJ_RETURN_IF_ERROR(ResetEnvironment(policy.environment));
  // 7. seccomp, last: everything above needed syscalls it refuses.
  if (policy.layers.seccomp) {
    if (!policy.layers.drop_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
      return Status::Errno("prctl(PR_SET_NO_NEW_PRIVS)");
    WJ_RETURN_IF_ERROR(LoadSeccompFilter(policy.seccomp_filter));
  }
  times->Mark("seccomp");
  return Status::Ok();
}

}  // namespace wj::jail
