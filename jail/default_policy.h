// The one JailPolicy every sandbox starts from, built the same way for the
// zygote and for `warmjail check`, so the check probes exactly what serves.
#pragma once
#include <sys/types.h>

#include "jail/layers.h"
#include "jail/policy.h"
#include "util/status.h"

namespace wj::jail {

// Fills *policy: the layers asked for, the sandbox's ids inside and outside
// (SetOuterIds), a staging directory that exists on this host, the fixed
// environment, read-only binds of the system libraries and of Debian's
// Python 3.11 (a warm zygote later replaces them with its interpreter's own
// sys.path), and, with the seccomp layer on, the compiled filter. Fails only
// when the filter does not compile; everything else is filled all the same.
Status DefaultPolicy(const Layers& layers, uid_t sandbox_uid, JailPolicy* policy);

}  // namespace wj::jail
