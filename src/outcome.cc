#include "src/outcome.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "src/config.h"

namespace wj {

namespace {
void Set(SandboxResult* r, Outcome outcome, std::string error) {
  r->outcome = outcome;
  r->error = std::move(error);
  r->script_ran = Spec(outcome).script_ran;
}
}  // namespace

std::string SignalName(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

void Interpret(const Observation& seen, SandboxResult* r) {
  if (!seen.started) {
    Set(r, Outcome::kUnavailable, OutcomeText(Outcome::kUnavailable, seen.unavailable));
    return;
  }
  if (seen.timed_out) {
    Set(r, Outcome::kTimeout, OutcomeText(Outcome::kTimeout, FormatSeconds(seen.timeout_s)));
    return;
  }
  if (seen.zygote_lost) {
    Set(r, Outcome::kUnavailable,
        OutcomeText(Outcome::kUnavailable, "the zygote exited while the script ran; retry the request"));
    r->script_ran = true;
    return;
  }
  int sig = seen.exited && WIFSIGNALED(seen.wait_status) ? WTERMSIG(seen.wait_status) : 0;
  if (seen.oom_killed) {
    Set(r, Outcome::kMemoryLimit, OutcomeText(Outcome::kMemoryLimit));
    return;
  }
  // RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard one.
  if (sig == SIGXCPU || (sig == SIGKILL && seen.cpu_used_s >= seen.cpu_time_s)) {
    Set(r, Outcome::kTimeout, OutcomeText(Outcome::kTimeout, FormatSeconds(seen.cpu_time_s)));
    return;
  }
  if (!seen.doc.empty()) {
    SandboxDocument doc = ReadSandboxDocument(seen.doc, seen.max_result_bytes, seen.doc_overflow);
    r->stages = std::move(doc.stages);
    Set(r, doc.outcome, std::move(doc.error));
    if (doc.outcome == Outcome::kOk) r->result_json.assign(doc.result);
    if (doc.outcome == Outcome::kRuntimeError) r->traceback = std::move(doc.traceback);
    return;
  }
  if (sig != 0) {
    Set(r, Outcome::kCrashed, OutcomeText(Outcome::kCrashed, "killed by signal " + SignalName(sig)));
  } else if (seen.exited && WIFEXITED(seen.wait_status) && WEXITSTATUS(seen.wait_status) != 0) {
    Set(r, Outcome::kCrashed,
        OutcomeText(Outcome::kCrashed,
                    "exited with status " + std::to_string(WEXITSTATUS(seen.wait_status)) + " before returning"));
  } else {
    Set(r, Outcome::kCrashed, OutcomeText(Outcome::kCrashed, "exited without returning a result"));
  }
}

}  // namespace wj
