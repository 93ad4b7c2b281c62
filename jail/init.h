// The PID namespace's init. The specialized child forks the worker that runs
// the script and stays behind as PID 1: the kernel ignores signals a process
// sends to its namespace's init (so abort() or RLIMIT_CPU's SIGXCPU would not
// end a script running as PID 1), and init is what kills and reaps every
// process a script left behind. Without a PID namespace the leftovers are
// ended through the child's process group instead (it is a session leader).
#pragma once
#include <sys/types.h>

namespace wj::jail {

// Init's side, after fork() returned `worker`: closes the descriptors only
// the worker may hold, waits for the worker, writes its wait status (4 bytes)
// to kStatusFd, then (as PID 1 only) kills and reaps whatever is left, and
// exits. Never returns.
[[noreturn]] void RunInit(pid_t worker);

// The worker's side: closes kStatusFd, which is init's alone.
void LeaveInitDescriptors();

}  // namespace wj::jail
