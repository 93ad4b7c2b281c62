#include "jail/default_policy.h"

#include <unistd.h>

#include <string>

#include "jail/environment.h"
#include "jail/mounts.h"
#include "jail/namespaces.h"
#include "jail/seccomp.h"

namespace wj::jail {

namespace {

// The child mounts its root's tmpfs on a directory of the host, hidden only
// inside its own mount namespace: any existing one will do.
std::string PickStagingDir() {
  for (const char* dir : {"/tmp", "/mnt", "/run", "/var/tmp"})
    if (::access(dir, F_OK) == 0) return dir;
  return "/tmp";
}

}  // namespace

Status DefaultPolicy(const Layers& layers, uid_t sandbox_uid, JailPolicy* policy) {
  policy->layers = layers;
  policy->sandbox_uid = sandbox_uid;
  policy->sandbox_gid = sandbox_uid;
  SetOuterIds(policy);
  policy->staging_dir = PickStagingDir();
  policy->environment = SandboxEnvironment();
  policy->binds = ResolveBindMounts({"/usr/lib/python3.11", "/usr/lib/python3/dist-packages"});
  policy->seccomp_filter.clear();
  if (layers.seccomp) return CompileSeccompFilter(&policy->seccomp_filter);
  return Status::Ok();
}

}  // namespace wj::jail
