// What happened to a child, as the server observed it, and the one function
// that decides which outcome of the API that was. Pure logic: unit-tested.
#pragma once
#include <string>

#include "src/contract.h"

namespace wj {

struct Observation {
  bool started = false;       // the zygote forked a child for the request
  bool zygote_lost = false;   // the zygote went away before the child was reaped
  std::string unavailable;    // why no child could be started
  bool timed_out = false;     // the server's wall-clock deadline passed
  double timeout_s = 0;
  double cpu_time_s = 0;
  bool exited = false;        // reaped, wait_status valid
  int wait_status = 0;
  double cpu_used_s = 0;
  bool oom_killed = false;    // the memory cgroup's OOM killer fired
  std::string doc;            // what the child wrote to its result pipe (hostile: see src/document.h)
  bool doc_overflow = false;  // more than DocumentCap(max_result_bytes): doc holds that many
  uint64_t max_result_bytes = 0;
};

// Fills result.outcome, error, traceback, result and script_ran.
void Interpret(const Observation& seen, SandboxResult* result);

// "SIGSEGV" for 11.
std::string SignalName(int signal);

}  // namespace wj
