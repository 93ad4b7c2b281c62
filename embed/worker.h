// The worker: the one process of a sandbox that runs Python. The zygote
// forks it (into a nest's PID namespace when there are namespaces: see
// jail/nest.h); everything it needs arrives as arguments, nothing is read
// from the zygote's state across the fork.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "embed/interpreter.h"
#include "jail/nest.h"
#include "jail/policy.h"
#include "util/stage_times.h"

namespace wj::embed {

struct WorkerStart {
  const jail::JailPolicy* policy = nullptr;
  jail::ChildLimits limits;
  jail::ChildFds fds;         // spare_fd: the hand-over socket, set-up failures included
  const jail::Nest* nest = nullptr;  // nullptr: no namespaces (a session of its own instead)
  std::vector<int> cgroup_procs;  // cgroup.procs fds the worker writes itself into
  bool memory_by_cgroup = false;  // else the job's memory limit is RLIMIT_AS
  Interpreter* interpreter = nullptr;  // nullptr in cold mode: started per job
  StageTimes times;
};

// Never returns: specializes, warms, says ready, runs its one job, exits.
[[noreturn]] void RunWorker(WorkerStart start);

// This process's address-space size (VmSize), in bytes.
uint64_t VirtualMemoryBytes();

}  // namespace wj::embed
