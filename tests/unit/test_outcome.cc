#include <doctest/doctest.h>
#include <signal.h>

#include "src/outcome.h"

using namespace wj;

namespace {
Observation Started() {
  Observation o;
  o.started = true;
  o.exited = true;
  o.timeout_s = 2;
  o.cpu_time_s = 2;
  o.max_result_bytes = 100;
  return o;
}
int Signaled(int sig) { return sig & 0x7f; }
int Exited(int code) { return (code & 0xff) << 8; }
SandboxResult Run(const Observation& o) {
  SandboxResult r;
  Interpret(o, &r);
  return r;
}
}  // namespace

TEST_CASE("a success document gives the result") {
  Observation o = Started();
  o.doc = "{\"ok\":true}\n{\"sum\": 30}";
  SandboxResult r = Run(o);
  CHECK(r.outcome == Outcome::kOk);
  CHECK(r.result_json == "{\"sum\": 30}");
  o.doc = "{\"stages\":[[\"forked\",1.5]],\"ok\":true}\n[1]";
  r = Run(o);
  CHECK(r.outcome == Outcome::kOk);
  CHECK(r.stages[0].name == "forked");
}

TEST_CASE("a script error document keeps its type, text and traceback") {
  Observation o = Started();
  o.doc = R"({"ok":false,"error_type":"runtime_error","error":"Script execution error: ValueError: x","traceback":"T"})";
  SandboxResult r = Run(o);
  CHECK(r.outcome == Outcome::kRuntimeError);
  CHECK(r.error == "Script execution error: ValueError: x");
  CHECK(r.traceback == "T");
  CHECK(r.script_ran);
  o.doc = R"({"ok":false,"error_type":"no_main","error":"ERROR: No main() function found"})";
  r = Run(o);
  CHECK(r.outcome == Outcome::kNoMain);
  CHECK_FALSE(r.script_ran);
}

TEST_CASE("the server's deadline wins over everything") {
  Observation o = Started();
  o.timed_out = true;
  o.wait_status = Signaled(SIGKILL);
  o.doc = "{\"ok\":true}\n1";
  SandboxResult r = Run(o);
  CHECK(r.outcome == Outcome::kTimeout);
  CHECK(r.error == "Script execution timeout (2 seconds)");
}

TEST_CASE("SIGXCPU and the hard CPU limit's SIGKILL are timeouts") {
  Observation o = Started();
  o.wait_status = Signaled(SIGXCPU);
  CHECK(Run(o).outcome == Outcome::kTimeout);
  o.wait_status = Signaled(SIGKILL);
  o.cpu_used_s = 3.0;
  CHECK(Run(o).outcome == Outcome::kTimeout);
}

TEST_CASE("an OOM kill is memory_limit with the exact text") {
  Observation o = Started();
  o.oom_killed = true;
  o.wait_status = Signaled(SIGKILL);
  SandboxResult r = Run(o);
  CHECK(r.outcome == Outcome::kMemoryLimit);
  CHECK(r.error == "Script execution error: Memory limit exceeded");
}

TEST_CASE("a death without a document is crashed, saying how") {
  Observation o = Started();
  o.wait_status = Signaled(SIGSEGV);
  CHECK(Run(o).error == "Script crashed: killed by signal SIGSEGV");
  o.wait_status = Exited(3);
  SandboxResult r = Run(o);
  CHECK(r.outcome == Outcome::kCrashed);
  CHECK(r.error.find("status 3") != std::string::npos);
  o.wait_status = Exited(0);
  CHECK(Run(o).outcome == Outcome::kCrashed);
}

TEST_CASE("a forged or garbled document is crashed, never trusted as a server error") {
  Observation o = Started();
  o.doc = "{not json";
  CHECK(Run(o).outcome == Outcome::kCrashed);
  o.doc = std::string("{\"ok\":true}\n7") + '\0' + ", \"injected\": 1";
  REQUIRE(o.doc.size() == 29);
  CHECK(Run(o).outcome == Outcome::kCrashed);
  o.doc = "{\"ok\":true}\n[1, NaN]";
  CHECK(Run(o).outcome == Outcome::kCrashed);
  o.doc = "{\"ok\":true}\n\"\xff\"";
  CHECK(Run(o).outcome == Outcome::kCrashed);
  o.doc = R"({"ok":false,"error_type":"internal","error":"x"})";
  CHECK(Run(o).outcome == Outcome::kCrashed);
  // The audit's forgeries: a script claiming the service's own failures.
  o.doc = R"({"ok": false, "error_type": "setup_failed", "error": "pivot_root(., .): Operation not permitted"})";
  SandboxResult r = Run(o);
  CHECK(r.outcome == Outcome::kCrashed);
  CHECK(r.error == "Script crashed: it wrote an invalid result document (an error_type that is not one of the script's outcomes)");
  CHECK(r.script_ran);
  o.doc = R"({"ok": false, "error_type": "runner_failed", "error": "x"})";
  CHECK(Run(o).outcome == Outcome::kCrashed);
  o.doc = "{\"stages\":" + std::string(150000, '[') + std::string(150000, ']') + ",\"ok\":true}\n1";
  CHECK(Run(o).outcome == Outcome::kCrashed);
  o.doc = "{\"ok\":true}\n\xEF\xBB\xBF" "1";
  CHECK(Run(o).outcome == Outcome::kCrashed);
}

TEST_CASE("an oversized document is result_too_large naming the cap") {
  Observation o = Started();
  o.doc = "{\"ok\":true}\n" + std::string(101, '1');
  SandboxResult r = Run(o);
  CHECK(r.outcome == Outcome::kResultTooLarge);
  CHECK(r.error == "Result is larger than the cap of 100 bytes of JSON");
  o.doc = "{\"ok\":true}\n" + std::string(100, '1');
  CHECK(Run(o).outcome == Outcome::kOk);
  o.doc_overflow = true;
  CHECK(Run(o).outcome == Outcome::kResultTooLarge);
  // The runner's own report gives the same text.
  o.doc_overflow = false;
  o.doc = R"({"ok":false,"error_type":"result_too_large","error":"Result is larger than the cap of 100 bytes of JSON"})";
  CHECK(Run(o).error == r.error);
}

TEST_CASE("no child, or a lost zygote, is unavailable") {
  Observation o;
  o.unavailable = "the sandbox zygote is restarting";
  SandboxResult r = Run(o);
  CHECK(r.outcome == Outcome::kUnavailable);
  CHECK(r.error.find("restarting") != std::string::npos);
  Observation lost = Started();
  lost.exited = false;
  lost.zygote_lost = true;
  CHECK(Run(lost).outcome == Outcome::kUnavailable);
}

TEST_CASE("signal names") {
  CHECK(SignalName(SIGSEGV) == "SIGSEGV");
  CHECK(SignalName(SIGKILL) == "SIGKILL");
}
