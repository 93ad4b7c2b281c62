// Fork-enter: a sandbox's namespaces and root filesystem are made ahead of
// its request by a small process that holds no interpreter (embed/jailer.cc),
// and the worker forked from the zygote joins them. The zygote's interpreter
// is then forked once per request, not twice (once for the init, once for
// the worker), and the mounts are built off the zygote's hot path.
//
// A nest is one sandbox's worth of kernel objects: an init process, PID 1 of
// new user, mount, PID, network, IPC, UTS and cgroup namespaces, with the
// read-only root and a fresh /tmp mounted, its privileges dropped and its
// seccomp filter loaded, reaping orphans until it is killed. It holds exactly
// one worker in its whole life and is never reused: killing its init ends
// every process in it, and the kernel frees the namespaces and the tmpfs.
#pragma once
#include <sys/types.h>

#include <vector>

#include "jail/policy.h"
#include "util/stage_times.h"
#include "util/status.h"
#include "util/unique_fd.h"

namespace wj::jail {

struct Nest {
  pid_t init = -1;
  UniqueFd pidfd;  // the init: killing it ends the nest; readable once it is gone
  // Its namespaces, opened while the init could still be inspected (it makes
  // itself non-dumpable, after which only a process with CAP_SYS_PTRACE over
  // its memory could open them). A worker joins them in this order; the
  // cgroup namespace it makes itself, rooted at the sandbox's cgroup.
  UniqueFd user, mnt, pid, net, ipc, uts;

  // The descriptors, in the order of kNestFdNames (for SCM_RIGHTS).
  std::vector<int> Fds() const;
  // From descriptors received in that order; false if they are not that.
  static bool FromFds(pid_t init, std::vector<UniqueFd> fds, Nest* out);
};
inline constexpr int kNestFdCount = 7;

// Jailer side: clones the init, writes its uid/gid maps and its cgroup
// membership (`cgroup_procs`: cgroup.procs fds opened for writing) while it
// waits, opens its namespaces, releases it and waits for its report. On
// failure the init is gone and the error says which step failed.
Status MakeNest(const JailPolicy& policy, uint64_t tmp_bytes, const std::vector<int>& cgroup_procs, Nest* nest);

// Zygote side, right before fork(): the next child is born in the nest's PID
// namespace (as its PID 2; the init is PID 1). Needs CAP_SYS_ADMIN in the
// zygote's own user namespace: a root zygote has it, an unprivileged one
// first takes a user namespace of its own (TakeOwnUserNs).
Status AimForkAtNest(const Nest& nest);

// An unprivileged zygote, before it forks anything: a user namespace of its
// own, its uid and gid mapped to themselves, in which it holds every
// capability, so that it may aim forks at nests. Nothing changes on the host
// or for the sandboxes (their ids still map to its own): it has no
// capability outside, and inside it is not root, so a sandbox's uid_map
// shows no 0.
Status TakeOwnUserNs();

// Worker side, first thing after the fork (while it still holds the zygote's
// descriptors): dies with the zygote, joins the sandbox's cgroups and the
// nest's namespaces (nest nullptr: no namespaces, a session of its own),
// keeps only its own descriptors, takes the sandbox ids, its own stdin, the
// rlimits, drops every privilege, replaces the environment and loads the
// seccomp filter, in that order. Any error is fatal: the caller reports it
// on *report_fd (the hand-over socket, wherever it is at the time) and exits
// without running user code.
Status EnterNest(const JailPolicy& policy, const ChildLimits& limits, const ChildFds& fds, const Nest* nest,
                 const std::vector<int>& cgroup_procs, int* report_fd, StageTimes* times);

}  // namespace wj::jail
