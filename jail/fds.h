// The child's file descriptors: what it keeps, and dying with its parent.
#pragma once
#include "jail/policy.h"
#include "util/status.h"

namespace wj::jail {

// Blocks until the parent has finished its side of the set-up (uid/gid maps,
// cgroup) and writes one byte; EOF means the parent gave up or died.
Status WaitForRelease(int release_fd);
// SIGKILL when the zygote dies, so no child outlives it.
Status DieWithParent();
// fds.stdin/stdout/stderr become 0/1/2, fds.result kResultFd, fds.status
// kStatusFd and fds.spare kSpareFd; every other descriptor, including the zygote's control socket, is closed.
Status KeepOnlyChildFds(const ChildFds& fds);
// fd 0 becomes a /dev/null of the child's own, opened in its own root, in
// place of the zygote's shared one.
Status OpenOwnStdin();

}  // namespace wj::jail
