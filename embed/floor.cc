#include "embed/floor.h"

#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>

#include "embed/heap.h"
#include "embed/interpreter.h"
#include "jail/environment.h"

namespace wj::embed {

namespace {

double NowMs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double CpuMs(const rusage& r) {
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = (v.size() - 1) * q;
  size_t lo = static_cast<size_t>(pos);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

// kB of a field of /proc/self/smaps_rollup, -1 when absent.
long RollupKb(const std::string& field) {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// What a child does before it leaves: nothing (the floor), or a sandbox's
// Python work without the jail: CPython's after-fork re-initialisation, the
// per-child state and the runner on `script` (the document is only checked,
// stdout and stderr go to /dev/null).
struct ChildWork {
  Interpreter* interpreter = nullptr;
  const std::string* script = nullptr;
};

[[noreturn]] void RunChild(const ChildWork& work) {
  if (work.script == nullptr) ::_exit(0);
  int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull < 0 || ::dup2(devnull, 1) < 0 || ::dup2(devnull, 2) < 0) ::_exit(3);
  Interpreter::AfterForkChild();
  std::string doc;
  try {
    work.interpreter->PrepareChild();
    doc = work.interpreter->Run(*work.script, "", 1 << 20);
  } catch (const std::exception&) {
    ::_exit(4);
  }
  // The document's first line is its header: {"stages":[...],"ok":true}.
  std::string header = doc.substr(0, doc.find('\n'));
  ::_exit(header.find("\"ok\":true") != std::string::npos ? 0 : 5);
}

// One fork of the warm interpreter, as the zygote makes it (nothing of
// CPython around it on the parent's side). Returns false with errno set when
// fork or waitpid fails, or with errno 0 when the child did not exit 0.
bool ForkOnce(const ChildWork& work) {
  pid_t pid = ::fork();
  if (pid == 0) RunChild(work);
  int fork_errno = errno;
  if (pid < 0) {
    errno = fork_errno;
    return false;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  errno = 0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int ForkFailed() {
  if (errno != 0)
    std::fprintf(stderr, "warmjail __fork-floor: fork/waitpid: %s\n", std::strerror(errno));
  else
    std::fprintf(stderr, "warmjail __fork-floor: a child failed (its script's document was not a success)\n");
  return 1;
}

}  // namespace

int ForkFloorMain(unsigned count, const std::string& script_path) {
  // The zygote's process settings that shape its memory: the same malloc
  // arenas, SIGCHLD blocked (the zygote takes it through a signalfd).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::mallopt(M_ARENA_MAX, 2);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  if (count == 0) count = 1;
  std::string script;
  if (!script_path.empty()) {
    std::ifstream in(script_path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "warmjail __fork-floor: cannot read %s\n", script_path.c_str());
      return 1;
    }
    script.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Outside the try block, so that a Python error's text is read while the
  // interpreter still exists.
  std::unique_ptr<Interpreter> interpreter;
  HeapLayout huge;
  try {
    interpreter = std::make_unique<Interpreter>(/*for_forking=*/true);
    interpreter->WarmUp();
    if (!script_path.empty()) interpreter->PrepareZygote(jail::SandboxEnvironment());
    interpreter->FlushStdio();
    ::fflush(nullptr);
    huge = CollapseForForking();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warmjail __fork-floor: %s\n", e.what());
    return 1;
  }
  ChildWork work{interpreter.get(), script_path.empty() ? nullptr : &script};
  {
    // The first forks pay for pages the warm-up left shared with nothing
    // yet; the zygote has forked many spares before a request is measured.
    for (int i = 0; i < 3; ++i) {
      if (!ForkOnce(work)) return ForkFailed();
    }
    std::vector<double> wall;
    wall.reserve(count);
    rusage self0, kids0, self1, kids1;
    ::getrusage(RUSAGE_SELF, &self0);
    ::getrusage(RUSAGE_CHILDREN, &kids0);
    double t_begin = NowMs();
    for (unsigned i = 0; i < count; ++i) {
      double t0 = NowMs();
      if (!ForkOnce(work)) return ForkFailed();
      wall.push_back(NowMs() - t0);
    }
    double elapsed = NowMs() - t_begin;
    ::getrusage(RUSAGE_SELF, &self1);
    ::getrusage(RUSAGE_CHILDREN, &kids1);
    double parent_cpu = CpuMs(self1) - CpuMs(self0);
    double child_cpu = CpuMs(kids1) - CpuMs(kids0);
    std::printf(
        "{\"forks\": %u, \"script\": %s, \"wall_p50_ms\": %.4f, \"wall_p90_ms\": %.4f, \"wall_mean_ms\": %.4f, "
        "\"cpu_ms_per_fork\": %.4f, \"parent_cpu_ms_per_fork\": %.4f, \"child_cpu_ms_per_fork\": %.4f, "
        "\"parent_minflt_per_fork\": %.1f, \"child_minflt_per_fork\": %.1f, "
        "\"rss_kib\": %ld, \"anonymous_kib\": %ld, \"huge_kib\": %ld, \"ranges_not_collapsed\": %u}\n",
        count, script_path.empty() ? "false" : "true", Percentile(wall, 0.5), Percentile(wall, 0.9), elapsed / count, (parent_cpu + child_cpu) / count,
        parent_cpu / count, child_cpu / count, double(self1.ru_minflt - self0.ru_minflt) / count,
        double(kids1.ru_minflt - kids0.ru_minflt) / count, RollupKb("Rss"), RollupKb("Anonymous"), RollupKb("AnonHugePages"), huge.failed_ranges);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace wj::embed
