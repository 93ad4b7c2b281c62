#include "src/outcome.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <map>

#include "src/config.h"

namespace wj {

namespace {
using nlohmann::json;

const std::map<std::string, Outcome>& ScriptErrorTypes() {
  static const std::map<std::string, Outcome> types = {
      {"syntax_error", Outcome::kSyntaxError},
      {"no_main", Outcome::kNoMain},
      {"runtime_error", Outcome::kRuntimeError},
      {"not_json_serializable", Outcome::kNotJsonSerializable},
      {"memory_limit", Outcome::kMemoryLimit},
      {"result_too_large", Outcome::kResultTooLarge},
  };
  return types;
}

std::string StringField(const json& doc, const char* key) {
  auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void Set(SandboxResult* r, Outcome outcome, std::string error, bool ran = true) {
  r->outcome = outcome;
  r->error = std::move(error);
  r->script_ran = ran;
}

const char* kMemoryLimit = "Script execution error: Memory limit exceeded";
}  // namespace

std::string SignalName(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

void Interpret(const Observation& seen, SandboxResult* r) {
  if (!seen.started) {
    Set(r, Outcome::kUnavailable, "Sandbox unavailable: " + seen.unavailable, false);
    return;
  }
  if (seen.timed_out) {
    Set(r, Outcome::kTimeout, "Script execution timeout (" + FormatSeconds(seen.timeout_s) + " seconds)");
    return;
  }
  if (seen.zygote_lost) {
    Set(r, Outcome::kUnavailable, "Sandbox unavailable: the zygote exited while the script ran; retry the request");
    return;
  }
  int sig = seen.exited && WIFSIGNALED(seen.wait_status) ? WTERMSIG(seen.wait_status) : 0;
  if (seen.oom_killed) {
    Set(r, Outcome::kMemoryLimit, kMemoryLimit);
    return;
  }
  // RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL at the hard one.
  if (sig == SIGXCPU || (sig == SIGKILL && seen.cpu_used_s >= seen.cpu_time_s)) {
    Set(r, Outcome::kTimeout, "Script execution timeout (" + FormatSeconds(seen.cpu_time_s) + " seconds)");
    return;
  }
  if (seen.doc_overflow) {
    Set(r, Outcome::kResultTooLarge,
        "Result is larger than the cap of " + std::to_string(seen.max_result_bytes) + " bytes of JSON");
    return;
  }
  if (!seen.doc.empty()) {
    // A success document is a header line and the result's JSON text.
    size_t newline = seen.doc.find('\n');
    std::string_view header(seen.doc.data(), newline == std::string::npos ? seen.doc.size() : newline);
    json doc = json::parse(header.begin(), header.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_object() && doc.contains("stages") && doc["stages"].is_array()) r->stages = std::move(doc["stages"]);
    if (doc.is_object() && doc.value("ok", false) == true && newline != std::string::npos) {
      std::string_view text(seen.doc.data() + newline + 1, seen.doc.size() - newline - 1);
      // The child is untrusted: only well-formed JSON is spliced into the response.
      if (ValidJsonText(text)) {
        r->outcome = Outcome::kOk;
        r->script_ran = true;
        r->result_json.assign(text);
        return;
      }
    }
    if (doc.is_object() && doc.contains("error_type")) {
      std::string type = StringField(doc, "error_type");
      std::string error = StringField(doc, "error");
      auto known = ScriptErrorTypes().find(type);
      if (known != ScriptErrorTypes().end()) {
        bool ran = known->second != Outcome::kSyntaxError && known->second != Outcome::kNoMain;
        Set(r, known->second, error, ran);
        if (known->second == Outcome::kRuntimeError) r->traceback = StringField(doc, "traceback");
        return;
      }
      if (type == "setup_failed") {
        Set(r, Outcome::kUnavailable, "Sandbox could not be started: " + error, false);
        return;
      }
      if (type == "runner_failed") {
        Set(r, Outcome::kInternal, "Internal error in the sandbox runner");
        return;
      }
    }
    Set(r, Outcome::kCrashed, "Script crashed: it wrote an invalid result document");
    return;
  }
  if (sig != 0) {
    Set(r, Outcome::kCrashed, "Script crashed: killed by signal " + SignalName(sig));
  } else if (seen.exited && WIFEXITED(seen.wait_status) && WEXITSTATUS(seen.wait_status) != 0) {
    Set(r, Outcome::kCrashed,
        "Script crashed: exited with status " + std::to_string(WEXITSTATUS(seen.wait_status)) + " before returning");
  } else {
    Set(r, Outcome::kCrashed, "Script crashed: exited without returning a result");
  }
}

}  // namespace wj
