#include "jail/capabilities.h"

#include "jail/fds.h"

#include <grp.h>
#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <string>

namespace wj::jail {

Status SwitchToSandboxIds(const JailPolicy& policy) {
  // With a root zygote the child still carries root's supplementary groups;
  // an unprivileged zygote wrote "deny" to setgroups and has only its own.
  if (policy.outer_is_root || !policy.layers.namespaces) {
    if (::setgroups(0, nullptr) != 0) return Status::Errno("setgroups(0, [])");
  }
  // Inside a user namespace the sandbox ids are mapped; without one, a root
  // zygote switches to them directly and an unprivileged one keeps its own.
  bool own_ids = !policy.layers.namespaces && !policy.outer_is_root;
  gid_t gid = own_ids ? ::getegid() : policy.sandbox_gid;
  uid_t uid = own_ids ? ::geteuid() : policy.sandbox_uid;
  if (::setresgid(gid, gid, gid) != 0) return Status::Errno("setresgid(" + std::to_string(gid) + ")");
  if (::setresuid(uid, uid, uid) != 0) return Status::Errno("setresuid(" + std::to_string(uid) + ")");
  return Status::Ok();
}

Status DropPrivileges(const JailPolicy& policy) {
  // The bounding set is emptied first: dropping from it needs CAP_SETPCAP,
  // which the next steps take away.
  for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (::cap_drop_bound(cap) != 0 && errno != EINVAL)
      return Status::Errno("cap_drop_bound(" + std::to_string(cap) + ")");
  }
  if (::cap_reset_ambient() != 0 && errno != EINVAL) return Status::Errno("cap_reset_ambient()");
  if (!policy.layers.namespaces) {
    WJ_RETURN_IF_ERROR(SwitchToSandboxIds(policy));
    // The id change cleared the parent-death signal: set it again.
    WJ_RETURN_IF_ERROR(DieWithParent());
  }

  cap_t none = ::cap_init();
  if (none == nullptr) return Status::Errno("cap_init()");
  int rc = ::cap_set_proc(none);
  int err = errno;
  ::cap_free(none);
  if (rc != 0) return Status::Errno("cap_set_proc(empty)", err);

  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Status::Errno("prctl(PR_SET_NO_NEW_PRIVS)");
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return Status::Errno("prctl(PR_SET_DUMPABLE, 0)");
  if (!HoldsNoCapabilities()) return Status::Error("capabilities still held after cap_set_proc(empty)");
  return Status::Ok();
}

bool HoldsNoCapabilities() {
  cap_t now = ::cap_get_proc();
  if (now == nullptr) return false;
  cap_t none = ::cap_init();
  bool empty = none != nullptr && ::cap_compare(now, none) == 0;
  ::cap_free(now);
  if (none) ::cap_free(none);
  if (!empty) return false;
  for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if (::cap_get_bound(cap) > 0) return false;
    if (::cap_get_ambient(cap) > 0) return false;
  }
  return true;
}

}  // namespace wj::jail
