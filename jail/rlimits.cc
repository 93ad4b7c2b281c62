#include "jail/rlimits.h"

#include <sys/resource.h>

#include <string>

namespace wj::jail {

namespace {
Status Set(int resource, const char* name, rlim_t soft, rlim_t hard) {
  struct rlimit rl = {soft, hard};
  if (::setrlimit(resource, &rl) != 0)
    return Status::Errno(std::string("setrlimit(") + name + ", " + std::to_string(soft) + ")");
  return Status::Ok();
}
}  // namespace

Status ApplyRlimits(const ChildLimits& limits) {
  // CPU: the soft limit sends SIGXCPU, which the server reports as a timeout;
  // one more second and the hard limit's SIGKILL ends a script that ignores it.
  WJ_RETURN_IF_ERROR(Set(RLIMIT_CPU, "RLIMIT_CPU", limits.cpu_seconds, limits.cpu_seconds + 1));
  WJ_RETURN_IF_ERROR(Set(RLIMIT_FSIZE, "RLIMIT_FSIZE", limits.file_size_bytes, limits.file_size_bytes));
  WJ_RETURN_IF_ERROR(Set(RLIMIT_NOFILE, "RLIMIT_NOFILE", limits.max_open_files, limits.max_open_files));
  WJ_RETURN_IF_ERROR(Set(RLIMIT_NPROC, "RLIMIT_NPROC", limits.max_procs, limits.max_procs));
  WJ_RETURN_IF_ERROR(Set(RLIMIT_CORE, "RLIMIT_CORE", 0, 0));
  WJ_RETURN_IF_ERROR(Set(RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 0, 0));
  WJ_RETURN_IF_ERROR(Set(RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 0, 0));
  if (limits.address_space_bytes != 0)
    WJ_RETURN_IF_ERROR(Set(RLIMIT_AS, "RLIMIT_AS", limits.address_space_bytes, limits.address_space_bytes));
  return Status::Ok();
}

}  // namespace wj::jail
