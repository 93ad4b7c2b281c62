#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "jail/seccomp.h"

using namespace wj::jail;
using wj::Status;

TEST_CASE("the allowlist compiles to a BPF program") {
  std::vector<sock_filter> program;
  Status s = CompileSeccompFilter(&program);
  REQUIRE(s.ok());
  CHECK(program.size() > 50);
}

TEST_CASE("nothing dangerous is on the unconditional allowlist") {
  std::vector<std::string> allowed = AllowedSyscallNames();
  for (const char* name :
       {"mount", "umount2", "pivot_root", "chroot", "ptrace", "process_vm_readv", "process_vm_writev", "bpf",
        "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl",
        "add_key", "request_key", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
        "reboot", "swapon", "swapoff", "unshare", "setns", "execve", "execveat", "personality", "clone3",
        "setuid", "setgid", "setresuid", "setgroups", "capset", "sethostname", "open_by_handle_at", "name_to_handle_at",
        "mknod", "mknodat", "fanotify_init", "move_mount", "fsopen", "fsmount", "open_tree", "pidfd_getfd",
        "memfd_create", "memfd_secret", "flock", "vmsplice", "readahead", "cachestat"}) {
    CAPTURE(name);
    CHECK(std::find(allowed.begin(), allowed.end(), name) == allowed.end());
  }
}

namespace {

// Runs `call` in a child under the compiled filter and returns the errno it
// failed with, 0 when it succeeded. The filter is never loaded in the test
// process itself.
int ErrnoUnderFilter(long (*call)()) {
  std::vector<sock_filter> program;
  REQUIRE(CompileSeccompFilter(&program).ok());
  int report[2];
  REQUIRE(::pipe(report) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(report[0]);
    int err = 255;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && LoadSeccompFilter(program).ok()) {
      errno = 0;
      err = call() < 0 ? errno : 0;
    }
    (void)!::write(report[1], &err, sizeof err);
    ::_exit(0);
  }
  ::close(report[1]);
  int err = -1;
  REQUIRE(::read(report[0], &err, sizeof err) == sizeof err);
  ::close(report[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return err;
}

int Pipe() {
  int p[2];
  if (::pipe(p) != 0) return -1;
  return p[0];
}

int UnixSocket() { return ::socket(AF_UNIX, SOCK_STREAM, 0); }

constexpr long kHigh = 1L << 32;  // set in the upper half of an int argument, which the kernel ignores

}  // namespace

TEST_CASE("memfd_create and flock are refused") {
  CHECK(ErrnoUnderFilter([] { return ::syscall(SYS_memfd_create, "x", 0); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::flock(0, LOCK_EX | LOCK_NB)); }) == EPERM);
}

TEST_CASE("fcntl: descriptor flags yes, locks, leases, signals and pipe sizes no") {
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_GETFL)); }) == 0);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_SETFL, O_NONBLOCK)); }) == 0);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_GETFD)); }) == 0);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_SETFD, FD_CLOEXEC)); }) == 0);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_DUPFD_CLOEXEC, 10)); }) == 0);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(Pipe(), F_GETPIPE_SZ)); }) == 0);
  // The kernel reads only the lower half of the command: so does the filter.
  CHECK(ErrnoUnderFilter([] { return ::syscall(SYS_fcntl, 0, kHigh | F_GETFL); }) == 0);

  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(Pipe(), F_SETPIPE_SZ, 1 << 20)); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return ::syscall(SYS_fcntl, Pipe(), kHigh | F_SETPIPE_SZ, 1 << 20); }) == EPERM);
  struct flock lock {};
  lock.l_type = F_RDLCK;
  static struct flock* const l = &lock;
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_SETLK, l)); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_SETLKW, l)); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_GETLK, l)); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_OFD_SETLK, l)); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_OFD_SETLKW, l)); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_OFD_GETLK, l)); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_SETLEASE, F_RDLCK)); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_NOTIFY, 0)); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_SETSIG, SIGUSR1)); }) == EPERM);
  CHECK(ErrnoUnderFilter([] { return static_cast<long>(::fcntl(0, F_SETOWN, 1)); }) == EPERM);
}

TEST_CASE("preadv2/pwritev2 without RWF_NOWAIT only") {
  CHECK(ErrnoUnderFilter([] {
          char byte;
          struct iovec iov = {&byte, 1};
          return static_cast<long>(::preadv2(::open("/proc/self/stat", O_RDONLY), &iov, 1, 0, 0));
        }) == 0);
  CHECK(ErrnoUnderFilter([] {
          char byte;
          struct iovec iov = {&byte, 1};
          return static_cast<long>(::preadv2(::open("/proc/self/stat", O_RDONLY), &iov, 1, 0, RWF_NOWAIT));
        }) == EPERM);
  CHECK(ErrnoUnderFilter([] {
          char byte = 0;
          struct iovec iov = {&byte, 1};
          return static_cast<long>(::pwritev2(::open("/dev/null", O_WRONLY), &iov, 1, 0, RWF_NOWAIT | RWF_HIPRI));
        }) == EPERM);
}

TEST_CASE("fadvise: no POSIX_FADV_DONTNEED") {
  CHECK(ErrnoUnderFilter([] {
          return static_cast<long>(-::posix_fadvise(::open("/proc/self/stat", O_RDONLY), 0, 0, POSIX_FADV_SEQUENTIAL));
        }) == 0);
  CHECK(ErrnoUnderFilter([] {
          return ::syscall(SYS_fadvise64, ::open("/proc/self/stat", O_RDONLY), 0, 0, POSIX_FADV_DONTNEED);
        }) == EPERM);
  CHECK(ErrnoUnderFilter([] {
          return ::syscall(SYS_fadvise64, ::open("/proc/self/stat", O_RDONLY), 0, 0, kHigh | POSIX_FADV_DONTNEED);
        }) == EPERM);
}

TEST_CASE("prlimit64 on itself only") {
  CHECK(ErrnoUnderFilter([] {
          struct rlimit rl;
          return static_cast<long>(::getrlimit(RLIMIT_NOFILE, &rl));
        }) == 0);
  CHECK(ErrnoUnderFilter([] {
          struct rlimit rl = {64, 64};
          return static_cast<long>(::setrlimit(RLIMIT_NOFILE, &rl));
        }) == 0);
  CHECK(ErrnoUnderFilter([] {
          struct rlimit rl;
          return ::syscall(SYS_prlimit64, ::getppid(), RLIMIT_NOFILE, nullptr, &rl);
        }) == EPERM);
  CHECK(ErrnoUnderFilter([] {
          struct rlimit rl;
          return ::syscall(SYS_prlimit64, kHigh, RLIMIT_NOFILE, nullptr, &rl);
        }) == EPERM);
}

TEST_CASE("setsockopt: no SO_SNDBUF/SO_RCVBUF") {
  static const int one = 1, big = 1 << 20;
  CHECK(ErrnoUnderFilter([] {
          return static_cast<long>(::setsockopt(UnixSocket(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
        }) == 0);
  CHECK(ErrnoUnderFilter([] {
          return static_cast<long>(::setsockopt(UnixSocket(), SOL_SOCKET, SO_SNDBUF, &big, sizeof big));
        }) == EPERM);
  CHECK(ErrnoUnderFilter([] {
          return static_cast<long>(::setsockopt(UnixSocket(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big));
        }) == EPERM);
  CHECK(ErrnoUnderFilter([] {
          return ::syscall(SYS_setsockopt, UnixSocket(), SOL_SOCKET, kHigh | SO_SNDBUF, &big, sizeof big);
        }) == EPERM);
  CHECK(ErrnoUnderFilter([] {
          return static_cast<long>(::socket(AF_INET, SOCK_STREAM, 0));
        }) == EPERM);
}
