#include "jail/namespaces.h"

#include <cstdio>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <string>

namespace wj::jail {

namespace {
// Root of the host (or of a container without a user namespace): uid 0
// mapped to uid 0 of the parent namespace, so it may map other ids.
bool IsHostRoot() {
  if (::geteuid() != 0) return false;
  int fd = ::open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[128];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  unsigned long inside = 1, outside = 1;
  return std::sscanf(buf, "%lu %lu", &inside, &outside) == 2 && inside == 0 && outside == 0;
}
}  // namespace

void SetOuterIds(JailPolicy* policy) {
  policy->outer_is_root = IsHostRoot();
  policy->outer_uid = policy->outer_is_root ? policy->sandbox_uid : ::geteuid();
  policy->outer_gid = policy->outer_is_root ? policy->sandbox_gid : ::getegid();
}

unsigned long CloneFlags(const Layers& layers) {
  if (!layers.namespaces) return 0;
  return CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
}

namespace {
Status WriteProcFile(pid_t pid, const char* name, const std::string& text) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::Errno("open(" + path + ")");
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) return Status::Errno("write(" + path + ", \"" + text.substr(0, text.size() - 1) + "\")", err);
  return Status::Ok();
}
}  // namespace

Status InitUserNsFromParent(pid_t child, const JailPolicy& policy) {
  // An unprivileged zygote may only map its own ids, and only after giving up
  // setgroups(); a root zygote keeps setgroups so the child can clear its
  // supplementary groups itself.
  if (!policy.outer_is_root) WJ_RETURN_IF_ERROR(WriteProcFile(child, "setgroups", "deny\n"));
  WJ_RETURN_IF_ERROR(WriteProcFile(child, "uid_map",
      std::to_string(policy.sandbox_uid) + " " + std::to_string(policy.outer_uid) + " 1\n"));
  WJ_RETURN_IF_ERROR(WriteProcFile(child, "gid_map",
      std::to_string(policy.sandbox_gid) + " " + std::to_string(policy.outer_gid) + " 1\n"));
  return Status::Ok();
}

Status InitNs(const JailPolicy& policy) {
  if (::sethostname(policy.hostname.data(), policy.hostname.size()) != 0)
    return Status::Errno("sethostname(" + policy.hostname + ")");
  if (::unshare(CLONE_NEWCGROUP) != 0) return Status::Errno("unshare(CLONE_NEWCGROUP)");
  return Status::Ok();
}

Status NewSession() {
  if (::setsid() < 0) return Status::Errno("setsid()");
  return Status::Ok();
}

}  // namespace wj::jail
