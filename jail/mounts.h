// The child's filesystem: a fresh tmpfs root holding read-only binds of only
// what Python and its libraries need, a private size-capped /tmp, a minimal
// /dev and the /proc of its own PID namespace; the host's root is detached.
#pragma once
#include <string>
#include <vector>

#include "jail/policy.h"
#include "util/status.h"

namespace wj::jail {

// Zygote side, once: the read-only binds for `extra_dirs` (the interpreter's
// sys.path) plus the shared-library and data directories, keeping those that
// exist on this host.
std::vector<BindMount> ResolveBindMounts(const std::vector<std::string>& extra_dirs);

// Child side, inside its new mount namespace.
Status BuildRoot(const JailPolicy& policy, uint64_t tmp_bytes);

}  // namespace wj::jail
