// The PID namespace's init. The specialized child forks the worker that runs
// the script and stays behind as PID 1: the kernel ignores signals a process
// sends to its namespace's init (so abort() or RLIMIT_CPU's SIGXCPU would not
// end a script running as PID 1), and init's exit is what ends every process
// a script left behind.
#pragma once
#include <sys/types.h>

namespace wj::jail {

// Init's side, after fork() returned `worker`: drops the worker's descriptors,
// reaps every child, writes the worker's wait status (4 bytes) to kStatusFd
// and exits. Never returns.
[[noreturn]] void RunInit(pid_t worker);

// The worker's side: closes kStatusFd, which is init's alone.
void LeaveInitDescriptors();

}  // namespace wj::jail
