// The jailer: a small process the zygote forks before its interpreter starts,
// so that forking it, and its forking a nest's init, copies almost nothing.
// On request it makes a nest (jail/nest.h: an init in new namespaces with
// the sandbox's root mounted) and sends back a pidfd of its init; the zygote
// forks the sandbox's worker into it. One request at a time, in order.
#pragma once
#include <sys/types.h>

#include <cstdint>

#include "jail/policy.h"
#include "util/unique_fd.h"

namespace wj::embed {

// Forks the jailer with the policy as it is now (the directories the
// sandboxes mount come later: proto::Kind::kJailerDirs). On success *sock is
// the zygote's end of their socketpair.
bool StartJailer(const jail::JailPolicy& policy, uint64_t tmp_bytes, pid_t* pid, UniqueFd* sock);

}  // namespace wj::embed
