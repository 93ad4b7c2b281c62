#include "jail/init.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "jail/policy.h"

namespace wj::jail {

void RunInit(pid_t worker) {
  // Only the worker may hold the pipes the server reads to EOF.
  for (int fd = 0; fd <= kResultFd; ++fd) ::close(fd);
  ::close(kSpareFd);
  int worker_status = -1;
  for (;;) {
    int status = 0;
    pid_t pid = ::wait(&status);
    if (pid == worker) {
      worker_status = status;
      break;
    }
    if (pid < 0 && errno != EINTR) break;
  }
  if (worker_status != -1) (void)!::write(kStatusFd, &worker_status, sizeof worker_status);
  // Whatever the script left running ends now, and is reaped here rather
  // than by the kernel as this process exits: a process reaped by its parent
  // adds its CPU time to the parent's (and so to the zygote's report of this
  // sandbox), one the kernel reaps for a dying init does not. Only as PID 1:
  // outside a PID namespace kill(-1) would reach every process of the uid.
  if (::getpid() == 1) {
    ::kill(-1, SIGKILL);
    while (::wait(nullptr) > 0 || errno == EINTR) {
    }
  }
  ::_exit(0);
}

void LeaveInitDescriptors() { ::close(kStatusFd); }

}  // namespace wj::jail
