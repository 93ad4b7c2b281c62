#include "jail/fds.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace wj::jail {

Status WaitForRelease(int release_fd) {
  char byte = 0;
  ssize_t n;
  do {
    n = ::read(release_fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Status::Errno("read(release pipe)");
  if (n == 0 || byte != 'G') return Status::Error("release pipe: the zygote abandoned the child");
  return Status::Ok();
}

Status DieWithParent() {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Status::Errno("prctl(PR_SET_PDEATHSIG)");
  return Status::Ok();
}

namespace {
// dup2 onto `target` even when `fd` already is `target` (then only the
// close-on-exec flag is cleared, which dup2 would not do).
Status MoveTo(int fd, int target, const char* name) {
  if (fd < 0) return Status::Error(std::string("no descriptor for ") + name);
  if (fd == target) {
    if (::fcntl(fd, F_SETFD, 0) != 0) return Status::Errno(std::string("fcntl(") + name + ", F_SETFD)");
    return Status::Ok();
  }
  if (::dup2(fd, target) < 0) return Status::Errno(std::string("dup2(") + name + ", " + std::to_string(target) + ")");
  return Status::Ok();
}
}  // namespace

Status KeepOnlyChildFds(const ChildFds& fds) {
  // The sources may themselves sit on 0..3; move them above the range first
  // so one dup2 cannot clobber the next one's source.
  constexpr int kKept = 6;
  int src[kKept] = {fds.stdin_fd, fds.stdout_fd, fds.stderr_fd, fds.result_fd, fds.status_fd, fds.spare_fd};
  const char* names[kKept] = {"stdin", "stdout", "stderr", "result", "status", "spare"};
  for (int i = 0; i < kKept; ++i) {
    if (src[i] < 0) return Status::Error(std::string("no descriptor for ") + names[i]);
    int high = ::fcntl(src[i], F_DUPFD_CLOEXEC, 16);
    if (high < 0) return Status::Errno(std::string("fcntl(") + names[i] + ", F_DUPFD_CLOEXEC)");
    src[i] = high;
  }
  for (int i = 0; i < kKept; ++i) WJ_RETURN_IF_ERROR(MoveTo(src[i], i, names[i]));
  if (::syscall(SYS_close_range, kKept, ~0u, 0u) != 0) return Status::Errno("close_range(6, ~0)");
  return Status::Ok();
}

Status OpenOwnStdin() {
  // The zygote's /dev/null is one open file description: its status flags,
  // owner and signal would carry from one request to the next.
  int fd = ::open("/dev/null", O_RDONLY);
  if (fd < 0) return Status::Errno("open(/dev/null)");
  if (fd != STDIN_FILENO) {
    int rc = ::dup2(fd, STDIN_FILENO);
    int err = errno;
    ::close(fd);
    if (rc < 0) return Status::Errno("dup2(/dev/null, 0)", err);
  }
  return Status::Ok();
}

}  // namespace wj::jail
