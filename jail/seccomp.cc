#include "jail/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
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
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
    "lseek", "close", "close_range", "open", "openat", "openat2", "creat", "stat", "fstat", "lstat",
    "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
    "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
    "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
    "truncate", "ftruncate", "fsync", "fdatasync", "dup", "dup2", "dup3", "pipe", "pipe2",
    "umask", "utime", "utimes", "utimensat", "futimesat", "fallocate", "sendfile",
    "copy_file_range", "splice", "tee", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr",
    "flistxattr", "sync_file_range",
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
    "getrlimit", "uname", "sysinfo", "getrandom", "arch_prctl", "setrlimit",
    // polling and local IPC
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "connect", "bind", "listen", "accept", "accept4",
    "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "getsockname",
    "getpeername", "getsockopt",
};

// The clone() flags refused: those that would create namespaces, and
// CLONE_PARENT, which would make the new process a child of the worker's
// parent — the zygote, outside the sandbox's PID namespace, where the CPU
// watchdog's walk of the sandbox's process tree does not see it. glibc's
// fork and threads never pass any of them.
constexpr uint64_t kRefusedCloneFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                        CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME | CLONE_PARENT;

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
  // Allowed when argument `arg`, an int to the kernel, is one of `values`.
  // The kernel ignores the upper half of an int argument, so the comparison
  // must too: a plain 64-bit compare against a list would still be safe (it
  // refuses), but a not-equal would not be.
  FilterBuilder& AllowIfArg32(const char* name, unsigned arg, std::initializer_list<uint32_t> values) {
    for (uint32_t value : values) Add(SCMP_ACT_ALLOW, name, {SCMP_CMP64(arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, value)});
    return *this;
  }
  // Allowed when int argument `arg` is `value` and int argument `arg2` one of `values`.
  FilterBuilder& AllowIfArgs32(const char* name, unsigned arg, uint32_t value, unsigned arg2,
                               std::initializer_list<uint32_t> values) {
    for (uint32_t second : values)
      Add(SCMP_ACT_ALLOW, name,
          {SCMP_CMP64(arg, SCMP_CMP_MASKED_EQ, 0xffffffffu, value),
           SCMP_CMP64(arg2, SCMP_CMP_MASKED_EQ, 0xffffffffu, second)});
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
      // Threads and forks, never new namespaces or a sibling of the worker.
      .AllowIf("clone", {SCMP_A0(SCMP_CMP_MASKED_EQ, kRefusedCloneFlags, 0)})
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
      // Descriptor flags and duplication only. No record locks (F_SETLK*,
      // F_OFD_SETLK*, F_GETLK), leases or dnotify: a lock on a host file bound
      // into the sandbox (a stdlib module, /dev/null) is seen host-wide. No
      // F_SETPIPE_SZ: a pipe's pages are not in RLIMIT_AS, and the default
      // size keeps them bounded by the descriptor count. No F_SETSIG/F_SETOWN.
      .AllowIfArg32("fcntl", 1, {F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETPIPE_SZ})
      // RWF_NOWAIT answers EAGAIN for a page not in the page cache: a probe of
      // which files (modules) another tenant has read.
      .AllowIf("preadv2", {SCMP_A5(SCMP_CMP_MASKED_EQ, RWF_NOWAIT, 0)})
      .AllowIf("pwritev2", {SCMP_A5(SCMP_CMP_MASKED_EQ, RWF_NOWAIT, 0)})
      // Advice, but no POSIX_FADV_DONTNEED: evicting a shared file's pages is
      // the other half of a page-cache probe.
      .AllowIfArg32("fadvise64", 3,
                    {POSIX_FADV_NORMAL, POSIX_FADV_RANDOM, POSIX_FADV_SEQUENTIAL, POSIX_FADV_WILLNEED,
                     POSIX_FADV_NOREUSE})
      // Its own limits only (pid 0): not the init's, which shares the uid.
      .AllowIf("prlimit64", {SCMP_A0(SCMP_CMP_EQ, 0)})
      // Socket options a Unix socket has use for, but not SO_SNDBUF/SO_RCVBUF:
      // a socket's queued bytes are not in RLIMIT_AS, and the default buffer
      // is half what they may raise it to.
      .AllowIfArgs32("setsockopt", 1, SOL_SOCKET, 2,
                     {SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER, SO_PASSCRED, SO_RCVLOWAT, SO_SNDLOWAT, SO_PEEK_OFF,
                      SO_RCVTIMEO_OLD, SO_SNDTIMEO_OLD, SO_RCVTIMEO_NEW, SO_SNDTIMEO_NEW})
      // memfd_create and flock are not on the list: a memfd's pages are not in
      // RLIMIT_AS (nothing of Python, numpy or pandas creates one), and
      // flock() on a bound host file is host-wide like fcntl's locks.
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
  for (const char* conditional : {"socket", "socketpair", "clone", "ioctl", "prctl", "fcntl", "preadv2", "pwritev2",
                                  "fadvise64", "prlimit64", "setsockopt"})
    names.emplace_back(conditional);
  return names;
}

}  // namespace wj::jail
