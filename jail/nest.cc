#include "jail/nest.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "jail/capabilities.h"
#include "jail/fds.h"
#include "jail/mounts.h"
#include "jail/namespaces.h"
#include "jail/rlimits.h"
#include "jail/specialize.h"

namespace wj::jail {

namespace {

constexpr int kNestReportFd = 3;  // the init's end of its report pipe

// The init's life after its report: PID 1 of the nest, reaping whatever the
// worker's processes leave orphaned, until the zygote kills it. SIGCHLD
// stays blocked outside sigsuspend, so an orphan that exits between the last
// waitpid and the wait for the next signal is not missed.
[[noreturn]] void ReapForever() {
  sigset_t chld, none;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigemptyset(&none);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  // A handler, so that SIGCHLD interrupts sigsuspend (its default action is
  // to be discarded).
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  ::sigaction(SIGCHLD, &sa, nullptr);
  for (;;) {
    while (::waitpid(-1, nullptr, WNOHANG | __WALL) > 0) {
    }
    ::sigsuspend(&none);
  }
}

// The init's side of MakeNest, up to its report. Any error is fatal.
Status BuildNestFromInside(const JailPolicy& policy, uint64_t tmp_bytes, int release_fd) {
  WJ_RETURN_IF_ERROR(DieWithParent());
  WJ_RETURN_IF_ERROR(WaitForRelease(release_fd));
  // Nothing of the jailer's stays open: the init needs only its report pipe.
  if (::syscall(SYS_close_range, 0u, kNestReportFd - 1u, 0u) != 0) return Status::Errno("close_range(0, 2)");
  if (::syscall(SYS_close_range, kNestReportFd + 1u, ~0u, 0u) != 0) return Status::Errno("close_range(4, ~0)");
  WJ_RETURN_IF_ERROR(InitNs(policy));
  WJ_RETURN_IF_ERROR(SwitchToSandboxIds(policy));
  // A change of uid or gid clears the parent-death signal: set it again, or
  // a jailer that dies (with its zygote) would leave this init behind. If the
  // jailer died in between, the report below fails and the init exits.
  WJ_RETURN_IF_ERROR(DieWithParent());
  if (policy.layers.filesystem) WJ_RETURN_IF_ERROR(BuildRoot(policy, tmp_bytes));
  // The init runs no user code, but it lives inside the sandbox: the script
  // must find nothing in it to use (no capability, and it cannot be traced
  // or have its memory read: DropPrivileges makes it non-dumpable).
  StageTimes unused;
  return LockDown(policy, &unused);
}

}  // namespace

std::vector<int> Nest::Fds() const {
  return {pidfd.get(), user.get(), mnt.get(), pid.get(), net.get(), ipc.get(), uts.get()};
}

bool Nest::FromFds(pid_t init_pid, std::vector<UniqueFd> fds, Nest* out) {
  if (init_pid <= 0 || fds.size() != kNestFdCount) return false;
  out->init = init_pid;
  out->pidfd = std::move(fds[0]);
  out->user = std::move(fds[1]);
  out->mnt = std::move(fds[2]);
  out->pid = std::move(fds[3]);
  out->net = std::move(fds[4]);
  out->ipc = std::move(fds[5]);
  out->uts = std::move(fds[6]);
  return true;
}

namespace {
Status OpenNamespace(pid_t pid, const char* name, UniqueFd* fd) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/" + name;
  fd->reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!*fd) return Status::Errno("open(" + path + ")");
  return Status::Ok();
}

Status OpenNamespaces(pid_t pid, Nest* nest) {
  WJ_RETURN_IF_ERROR(OpenNamespace(pid, "user", &nest->user));
  WJ_RETURN_IF_ERROR(OpenNamespace(pid, "mnt", &nest->mnt));
  WJ_RETURN_IF_ERROR(OpenNamespace(pid, "pid", &nest->pid));
  WJ_RETURN_IF_ERROR(OpenNamespace(pid, "net", &nest->net));
  WJ_RETURN_IF_ERROR(OpenNamespace(pid, "ipc", &nest->ipc));
  WJ_RETURN_IF_ERROR(OpenNamespace(pid, "uts", &nest->uts));
  return Status::Ok();
}
}  // namespace

Status MakeNest(const JailPolicy& policy, uint64_t tmp_bytes, const std::vector<int>& cgroup_procs, Nest* nest) {
  int release[2], report[2];
  if (::pipe2(release, O_CLOEXEC) != 0) return Status::Errno("pipe2(release)");
  UniqueFd release_r(release[0]), release_w(release[1]);
  if (::pipe2(report, O_CLOEXEC) != 0) return Status::Errno("pipe2(report)");
  UniqueFd report_r(report[0]), report_w(report[1]);

  pid_t pid = CloneChild(policy);
  if (pid < 0) return Status::Errno("clone(nest init)");
  if (pid == 0) {
    if (::dup2(report_w.get(), kNestReportFd) < 0) ::_exit(1);
    Status s = BuildNestFromInside(policy, tmp_bytes, release_r.get());
    if (!s.ok()) {
      (void)!::write(kNestReportFd, s.message().data(), s.message().size());
      ::_exit(1);
    }
    if (::write(kNestReportFd, "R", 1) != 1) ::_exit(1);
    ::close(kNestReportFd);
    ReapForever();
  }
  report_w.reset();
  nest->pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  Status parent = nest->pidfd ? InitChildFromParent(pid, policy, cgroup_procs) : Status::Errno("pidfd_open(nest init)");
  if (parent.ok()) parent = OpenNamespaces(pid, nest);
  if (parent.ok() && ::write(release_w.get(), "G", 1) != 1) parent = Status::Errno("write(release pipe)");
  release_w.reset();
  std::string said;
  if (parent.ok()) {
    char buf[512];
    ssize_t n;
    while ((n = ::read(report_r.get(), buf, sizeof buf)) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      said.append(buf, n);
      if (said == "R") break;  // the init keeps its end open no longer than this
    }
  }
  if (!parent.ok() || said != "R") {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    *nest = Nest{};
    if (!parent.ok()) return parent;
    return Status::Error(said.empty() ? "the nest's init died during set-up" : said);
  }
  nest->init = pid;
  return Status::Ok();
}

Status AimForkAtNest(const Nest& nest) {
  if (::setns(nest.pid.get(), CLONE_NEWPID) != 0) return Status::Errno("setns(nest pid namespace)");
  return Status::Ok();
}

Status TakeOwnUserNs() {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER) != 0) return Status::Errno("unshare(CLONE_NEWUSER)");
  auto write_file = [](const char* path, const std::string& text) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Status::Errno(std::string("open(") + path + ")");
    ssize_t n = ::write(fd, text.data(), text.size());
    int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size())) return Status::Errno(std::string("write(") + path + ")", err);
    return Status::Ok();
  };
  WJ_RETURN_IF_ERROR(write_file("/proc/self/setgroups", "deny\n"));
  WJ_RETURN_IF_ERROR(write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n"));
  WJ_RETURN_IF_ERROR(write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n"));
  return Status::Ok();
}

Status EnterNest(const JailPolicy& policy, const ChildLimits& limits, const ChildFds& fds, const Nest* nest,
                 const std::vector<int>& cgroup_procs, int* report_fd, StageTimes* times) {
  *report_fd = fds.spare_fd;
  WJ_RETURN_IF_ERROR(DieWithParent());
  // Into the sandbox's cgroups first: its cgroup namespace is rooted there.
  // "0" is the writer itself.
  for (int procs : cgroup_procs) {
    if (::write(procs, "0", 1) != 1) return Status::Errno("write(cgroup.procs, 0)");
  }
  if (nest) {
    // The user namespace first: it gives the capabilities the others need.
    const std::pair<int, const char*> joins[] = {{nest->user.get(), "user"}, {nest->mnt.get(), "mnt"},
                                                 {nest->net.get(), "net"},   {nest->ipc.get(), "ipc"},
                                                 {nest->uts.get(), "uts"}};
    for (const auto& [fd, name] : joins)
      if (::setns(fd, 0) != 0) return Status::Errno(std::string("setns(nest ") + name + " namespace)");
    // A cgroup namespace of its own, rooted at the cgroup it just joined (as
    // the init's is).
    if (::unshare(CLONE_NEWCGROUP) != 0) return Status::Errno("unshare(CLONE_NEWCGROUP)");
  }
  WJ_RETURN_IF_ERROR(KeepOnlyChildFds(fds));
  *report_fd = kSpareFd;
  if (nest) {
    WJ_RETURN_IF_ERROR(SwitchToSandboxIds(policy));
    // The id change cleared the parent-death signal (and a zygote that died
    // meanwhile takes the nest's init, and so this worker, with it).
    WJ_RETURN_IF_ERROR(DieWithParent());
  } else {
    // Without namespaces: a session of its own, which the server kills whole.
    WJ_RETURN_IF_ERROR(NewSession());
  }
  // setns put the working directory at the nest's root.
  if (::chdir("/tmp") != 0) return Status::Errno("chdir(/tmp)");
  WJ_RETURN_IF_ERROR(OpenOwnStdin());
  times->Mark("entered");
  WJ_RETURN_IF_ERROR(ApplyRlimits(limits));
  return LockDown(policy, times);
}

}  // namespace wj::jail
