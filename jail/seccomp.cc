#include "jail/seccomp.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <initializer_list>
#include <memory>

namespace wj::jail {

namespace {

// What CPython 3.11, numpy and pandas use, and nothing that mounts, traces,
// loads kernel modules, creates namespaces, execs, or reaches a network.
const char* const kAllowed[] = {
    // files and descriptors
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
    "lseek", "close", "close_range", "open", "openat", "openat2", "creat", "stat", "fstat", "lstat",
    "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
    "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
    "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
    "truncate", "ftruncate", "fsync", "fdatasync", "flock", "fcntl", "dup", "dup2", "dup3", "pipe", "pipe2",
    "umask", "utime", "utimes", "utimensat", "futimesat", "fadvise64", "fallocate", "sendfile",
    "copy_file_range", "splice", "tee", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr",
    "flistxattr", "memfd_create", "sync_file_range",
    // memory
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "mincore", "get_mempolicy", "membarrier",
    // signals and time
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "kill", "tkill", "tgkill", "pause", "alarm",
    "getitimer", "setitimer", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
    "timer_delete", "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    "timerfd_create", "timerfd_settime", "timerfd_gettime", "signalfd", "signalfd4", "restart_syscall",
    // processes and threads (confined by the PID namespace and pids cgroup)
    "fork", "vfork", "wait4", "waitid", "exit", "exit_group", "set_tid_address", "set_robust_list",
    "get_robust_list", "rseq", "futex", "futex_waitv", "sched_yield", "sched_getaffinity", "sched_getparam",
    "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min", "getpriority", "getcpu",
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
    "getgroups", "getpgid", "getpgrp", "getsid", "setsid", "setpgid", "capget", "getrusage", "times",
    "getrlimit", "uname", "sysinfo", "getrandom", "arch_prctl", "prlimit64", "setrlimit",
    // polling and local IPC
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "connect", "bind", "listen", "accept", "accept4",
    "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "getsockname",
    "getpeername", "setsockopt", "getsockopt",
};

// The clone() flags that would create namespaces; threads and forks never
// pass them.
constexpr uint64_t kNamespaceCloneFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                          CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME;

class FilterBuilder {
 public:
  FilterBuilder() : ctx_(seccomp_init(SCMP_ACT_ERRNO(kRefusedErrno)), &seccomp_release) {}

  FilterBuilder& Allow(std::initializer_list<const char*> names) {
    for (const char* name : names) Add(SCMP_ACT_ALLOW, name, {});
    return *this;
  }
  template <size_t N>
  FilterBuilder& Allow(const char* const (&names)[N]) {
    for (const char* name : names) Add(SCMP_ACT_ALLOW, name, {});
    return *this;
  }
  FilterBuilder& AllowIf(const char* name, std::initializer_list<scmp_arg_cmp> when) {
    Add(SCMP_ACT_ALLOW, name, when);
    return *this;
  }
  FilterBuilder& Refuse(const char* name, int err) {
    Add(SCMP_ACT_ERRNO(err), name, {});
    return *this;
  }
  // A process that uses another architecture's syscall table (i386 via
  // int 0x80, x32) is killed outright: no allowlist was written for it.
  FilterBuilder& KillOtherArchitectures() {
    if (ctx_ && seccomp_attr_set(ctx_.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0)
      error_ = "seccomp_attr_set(SCMP_FLTATR_ACT_BADARCH)";
    return *this;
  }

  Status Build(std::vector<sock_filter>* program) {
    if (!ctx_) return Status::Error("seccomp_init() failed");
    if (!error_.empty()) return Status::Error(error_);
    int fd = ::memfd_create("warmjail-seccomp", MFD_CLOEXEC);
    if (fd < 0) return Status::Errno("memfd_create(seccomp)");
    int rc = seccomp_export_bpf(ctx_.get(), fd);
    if (rc != 0) {
      ::close(fd);
      return Status::Errno("seccomp_export_bpf()", -rc);
    }
    off_t size = ::lseek(fd, 0, SEEK_END);
    program->assign(size / sizeof(sock_filter), sock_filter{});
    ssize_t n = ::pread(fd, program->data(), size, 0);
    ::close(fd);
    if (n != size) return Status::Error("reading the exported seccomp program failed");
    return Status::Ok();
  }

 private:
  void Add(uint32_t action, const char* name, std::initializer_list<scmp_arg_cmp> when) {
    if (!ctx_ || !error_.empty()) return;
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) return;  // not a syscall of this architecture
    int rc = seccomp_rule_add_array(ctx_.get(), action, nr, when.size(), when.begin());
    if (rc != 0) error_ = std::string("seccomp_rule_add(") + name + "): " + strerror(-rc);
  }

  std::unique_ptr<void, void (*)(void*)> ctx_;
  std::string error_;
};

}  // namespace

Status CompileSeccompFilter(std::vector<sock_filter>* program) {
  return FilterBuilder()
      .KillOtherArchitectures()
      .Allow(kAllowed)
      // Sockets only of the Unix family: a network namespace already has no
      // route out, and this also closes netlink, raw and packet sockets.
      .AllowIf("socket", {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)})
      .AllowIf("socketpair", {SCMP_A0(SCMP_CMP_EQ, AF_UNIX)})
      // Threads and forks, never new namespaces.
      .AllowIf("clone", {SCMP_A0(SCMP_CMP_MASKED_EQ, kNamespaceCloneFlags, 0)})
      // clone3 passes its flags in memory a filter cannot read; ENOSYS makes
      // glibc fall back to clone(), whose flags it can.
      .Refuse("clone3", ENOSYS)
      // Terminal and descriptor queries only: no TIOCSTI, no device ioctls.
      .AllowIf("ioctl", {SCMP_A1(SCMP_CMP_EQ, TCGETS)})
      .AllowIf("ioctl", {SCMP_A1(SCMP_CMP_EQ, TIOCGWINSZ)})
      .AllowIf("ioctl", {SCMP_A1(SCMP_CMP_EQ, FIONREAD)})
      .AllowIf("ioctl", {SCMP_A1(SCMP_CMP_EQ, FIONBIO)})
      .AllowIf("ioctl", {SCMP_A1(SCMP_CMP_EQ, FIOCLEX)})
      .AllowIf("ioctl", {SCMP_A1(SCMP_CMP_EQ, FIONCLEX)})
      // Thread names and the like; not PR_SET_SECCOMP, PR_SET_DUMPABLE, ...
      .AllowIf("prctl", {SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)})
      .AllowIf("prctl", {SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)})
      .AllowIf("prctl", {SCMP_A0(SCMP_CMP_EQ, PR_GET_DUMPABLE)})
      .AllowIf("prctl", {SCMP_A0(SCMP_CMP_EQ, PR_GET_NO_NEW_PRIVS)})
      .AllowIf("prctl", {SCMP_A0(SCMP_CMP_EQ, PR_GET_SECCOMP)})
      .Build(program);
}

Status LoadSeccompFilter(const std::vector<sock_filter>& program) {
  if (program.empty()) return Status::Error("seccomp filter was not compiled");
  struct sock_fprog prog = {static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
    return Status::Errno("seccomp(SECCOMP_SET_MODE_FILTER)");
  return Status::Ok();
}

std::vector<std::string> AllowedSyscallNames() {
  std::vector<std::string> names(std::begin(kAllowed), std::end(kAllowed));
  for (const char* conditional : {"socket", "socketpair", "clone", "ioctl", "prctl"}) names.emplace_back(conditional);
  return names;
}

}  // namespace wj::jail
