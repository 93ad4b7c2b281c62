#include "embed/worker.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "embed/protocol.h"
#include "embed/zygote.h"
#include "jail/nest.h"

namespace wj::embed {

namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  off_t offset = 0;
  ssize_t n;
  while ((n = ::pread(fd, buf, sizeof buf, offset)) > 0) {
    out.append(buf, n);
    offset += n;
  }
  return out;
}

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += n;
  }
}

std::string FailureDoc(const char* error_type, const std::string& message) {
  return nlohmann::json{{"ok", false}, {"error_type", error_type}, {"error", message}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Adds {"stages": [["forked", ms], ...]} to a document: each stage's duration
// since the one before, starting from when the zygote received the job.
std::string WithStages(const std::string& doc, const StageTimes& times) {
  if (doc.size() < 2 || doc[0] != '{' || times.count < 2) return doc;
  std::string stages = "{\"stages\":[";
  bool first = true;
  for (int i = 1; i < times.count; ++i) {
    if (times.names[i][0] == '\0') continue;  // the start of a step after a wait
    char item[96];
    std::snprintf(item, sizeof item, "%s[\"%s\",%.3f]", first ? "" : ",", times.names[i],
                  (times.at_ns[i] - times.at_ns[i - 1]) / 1e6);
    stages += item;
    first = false;
  }
  stages += "],";
  return stages + doc.substr(1);
}

// The job's own limits, lower than the server maxima the spare was built
// with; lowering needs no privilege, and the hard limits drop too so the
// script cannot raise them back.
void ApplyJobLimits(const proto::Message& job, bool memory_by_cgroup) {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  rlim_t used = static_cast<rlim_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
  struct rlimit cpu = {used + job.cpu_seconds, used + job.cpu_seconds + 1}, now {};
  // Never above the spare's own (the server's maximum): raising a hard
  // limit is refused, and the refusal would leave the job's unset.
  if (::getrlimit(RLIMIT_CPU, &now) == 0) {
    cpu.rlim_max = std::min(cpu.rlim_max, now.rlim_max);
    cpu.rlim_cur = std::min(cpu.rlim_cur, now.rlim_cur);  // SIGXCPU still comes before SIGKILL
  }
  ::setrlimit(RLIMIT_CPU, &cpu);
  if (!memory_by_cgroup) {
    // Counted above what this worker already maps, warmed interpreter and all.
    uint64_t limit = VirtualMemoryBytes() + job.memory_bytes;
    struct rlimit as = {limit, limit};
    ::setrlimit(RLIMIT_AS, &as);
  }
}

// A set-up failure, said on the hand-over socket (the zygote logs it and
// gives it as the reason jobs are refused), then the end.
[[noreturn]] void SetupFailed(int fd, const std::string& why) {
  (void)!::send(fd, why.data(), why.size(), MSG_NOSIGNAL);
  ::_exit(kExitSetupFailed);
}

}  // namespace

uint64_t VirtualMemoryBytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmSize:") {
      uint64_t kb;
      in >> kb;
      return kb * 1024;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

void RunWorker(WorkerStart start) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  start.times.Mark("forked");
  const jail::JailPolicy& policy = *start.policy;
  int report_fd = start.fds.spare_fd;
  Status s = jail::EnterNest(policy, start.limits, start.fds, start.nest, start.cgroup_procs, &report_fd,
                                   &start.times);
  if (!s.ok()) SetupFailed(report_fd, s.message());
  ::close(jail::kStatusFd);
  Interpreter* interpreter = start.interpreter;
  if (interpreter) Interpreter::AfterForkChild();
  start.times.Mark("worker");
  try {
    if (interpreter) interpreter->PrepareChild();
  } catch (const std::exception& e) {
    SetupFailed(jail::kSpareFd, std::string("prepare: ") + e.what());
  }
  if (::send(jail::kSpareFd, "R", 1, MSG_NOSIGNAL) != 1) ::_exit(kExitSetupFailed);

  proto::Message job;
  std::string text;
  std::vector<UniqueFd> fds;
  for (;;) {
    if (proto::Receive(jail::kSpareFd, &job, &text, &fds) != proto::RecvResult::kOk) ::_exit(kExitSetupFailed);
    if (job.kind != proto::Kind::kPrewarm) break;
    // Asked while the server is idle: copy the pages a request touches now.
    try {
      if (interpreter) interpreter->Prewarm();
    } catch (const std::exception& e) {
      SetupFailed(jail::kSpareFd, std::string("prewarm: ") + e.what());
    }
    if (::send(jail::kSpareFd, "R", 1, MSG_NOSIGNAL) != 1) ::_exit(kExitSetupFailed);
  }
  if (job.kind != proto::Kind::kJob || fds.size() != proto::kJobFixedFds) ::_exit(kExitSetupFailed);
  start.times.Mark("handover", job.sent_ns);
  for (int i = 1; i <= 3; ++i)
    if (::dup2(fds[i].get(), i) < 0) ::_exit(kExitSetupFailed);
  std::string payload = ReadAll(fds[0].get()), script, input;
  fds.clear();
  ::close(jail::kSpareFd);
  ApplyJobLimits(job, start.memory_by_cgroup);
  if (!proto::DecodePayload(payload, &script, &input)) {
    // Only error_types of src/document.cc's table: the server takes any
    // other from this process for a forgery (tests/unit/test_document.cc).
    WriteAll(jail::kResultFd, FailureDoc("runner_failed", "malformed job payload"));
    ::_exit(kExitSetupFailed);
  }
  payload.clear();
  payload.shrink_to_fit();
  std::string doc;
  std::unique_ptr<Interpreter> cold;
  try {
    if (!interpreter) {  // cold mode: the interpreter starts now, on the request's time
      cold = std::make_unique<Interpreter>();
      interpreter = cold.get();
      interpreter->PrepareZygote(policy.environment);
      interpreter->PrepareChild();
    }
    doc = interpreter->Run(script, input, job.max_result_bytes);
  } catch (const std::exception& e) {
    std::string what = e.what();
    // Running out of memory inside the runner itself is still the script's doing.
    if (what.find("MemoryError") != std::string::npos)
      doc = FailureDoc("memory_limit", "Script execution error: Memory limit exceeded");
    else
      doc = FailureDoc("runner_failed", what);
  }
  start.times.Mark("runner");
  // stdout and stderr reach EOF before the document, so the server has all
  // of the output once the document is complete and need not wait for the
  // process to be torn down.
  ::close(STDOUT_FILENO);
  ::close(STDERR_FILENO);
  WriteAll(jail::kResultFd, WithStages(doc, start.times));
  ::close(jail::kResultFd);
  // No interpreter shutdown: atexit handlers and finalizers are the
  // script's, and the process is thrown away anyway.
  ::_exit(0);
}

}  // namespace wj::embed
