#include "embed/zygote.h"

#include <dirent.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <algorithm>
#include <iterator>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <cstring>

#include "embed/interpreter.h"
#include "embed/protocol.h"
#include "jail/cgroups.h"
#include "jail/default_policy.h"
#include "jail/init.h"
#include "jail/mounts.h"
#include "jail/namespaces.h"
#include "jail/probe.h"
#include "jail/specialize.h"

namespace wj::embed {

namespace {

// One JSON object per line, as the server logs (stderr is the server's).
void Log(const std::string& line) {
  std::string text = nlohmann::json{{"event", "zygote"}, {"message", line}}.dump(
                         -1, ' ', false, nlohmann::json::error_handler_t::replace) +
                     "\n";
  (void)!::write(STDERR_FILENO, text.data(), text.size());
}

int CountThreads() {
  int count = 0;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (struct dirent* e = ::readdir(dir))
      if (e->d_name[0] != '.') ++count;
    ::closedir(dir);
  }
  return count;
}

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
std::string WithStages(const std::string& doc, const jail::StageTimes& times) {
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

class Zygote {
 public:
  explicit Zygote(const ZygoteOptions& options) : options_(options) {}

  int Main() {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::prctl(PR_SET_NAME, "warmjail-zygote");
    // Each malloc arena reserves 64 MiB of address space; with RLIMIT_AS as
    // the memory limit, a few threads would exhaust it before using memory.
    ::mallopt(M_ARENA_MAX, 2);
    devnull_.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));

    // SIGCHLD arrives as a readable descriptor, so the loop stays a single
    // poll() in a single thread.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    sigchld_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (options_.cgroup_version != 0) {
      cgroups_ = jail::CgroupManager::Attach(options_.cgroup_version, options_.cgroup_memory_base,
                                             options_.cgroup_pids_base);
      cgroups_->set_cpuacct_base(options_.cgroup_cpuacct_base);
    }

    ReadyReport ready;
    try {
      BuildPolicy();
      ready.layers = Probe();
      if (options_.mode == Mode::kZygote) {
        interpreter_ = std::make_unique<Interpreter>();
        interpreter_->WarmUp();
        policy_.binds = jail::ResolveBindMounts(interpreter_->SysPathDirs());
        ready.versions = interpreter_->Versions();
      } else {
        ready.versions = "python 3.11 (started per request)";
      }
    } catch (const std::exception& e) {
      Log(std::string("start-up failed: ") + e.what());
      return 1;
    }
    int threads = CountThreads();
    if (threads != 1) {
      // A fork with other threads alive can deadlock the child (CPython issue
      // 112275): refuse to serve rather than risk it.
      Log("expected exactly one thread after warm-up, found " + std::to_string(threads));
      return 1;
    }
    footprint_ = VirtualMemoryBytes();
    proto::Message msg{proto::Kind::kReady};
    if (!proto::Send(kControlFd, msg, EncodeReady(ready))) return 1;
    Replenish();
    int rc = Loop();
    EndChildren();
    return rc;
  }

 private:
  // One child of the zygote: a spare until a job is handed to it.
  struct Child {
    pid_t pid = -1;
    UniqueFd sock;    // the zygote's end of the child's hand-over socket
    UniqueFd status;  // read end of the init's status pipe
    // Destroyed in reverse: the memory and pids cgroups (which kill what is
    // left) before the CPU one.
    std::unique_ptr<jail::CpuCgroup> cpu;  // its CPU-time counter, if the cgroup has one
    std::unique_ptr<jail::ChildCgroup> cgroup;
    bool ready = false;    // warmed and waiting for a job
    uint64_t job_id = 0;   // 0 while a spare
    uint64_t memory_bytes = 0;
    uid_t host_uid = 0;    // leased from the pool (0: none)
    std::string setup_error;  // what the child said when its set-up failed
    // CPU time of all its processes, in microseconds: when the job began,
    // the job's limit, the highest sample, and whether the watchdog killed it.
    uint64_t cpu_start_us = 0;
    bool cpu_start_pending = false;
    uint64_t cpu_limit_us = 0;
    uint64_t cpu_seen_us = 0;
    bool cpu_killed = false;
    std::map<pid_t, uint64_t> cpu_own_ticks;  // without a cgroup counter: see ProcessTable
  };
  struct PendingJob {
    proto::Message msg;
    std::vector<UniqueFd> fds;
  };

  void BuildPolicy() {
    jail::Status s = jail::DefaultPolicy(options_.layers, options_.sandbox_uid, &policy_);
    if (!s.ok()) throw std::runtime_error(s.message());
    // A host uid per sandbox needs root (to map an id that is not ours) and
    // a user namespace to map it in.
    use_uid_pool_ = policy_.outer_is_root && policy_.layers.namespaces && options_.host_uid_count > 0;
  }

  // A layer this host refuses is off for every child from here on.
  std::vector<jail::LayerReport> Probe() {
    std::vector<jail::LayerReport> reports = jail::ProbeLayers(&policy_);
    for (const jail::LayerReport& report : reports)
      if (!report.active && jail::SwitchOf(report.layer)) policy_.layers.*jail::SwitchOf(report.layer) = false;
    return reports;
  }

  int Loop() {
    std::vector<struct pollfd> fds;
    std::vector<pid_t> owners;
    for (;;) {
      fds.assign({{kControlFd, POLLIN, 0}, {sigchld_.get(), POLLIN, 0}});
      owners.assign({0, 0});
      for (auto& [pid, child] : children_) {
        if (child.ready || child.job_id != 0) continue;
        fds.push_back({child.sock.get(), POLLIN, 0});
        owners.push_back(pid);
      }
      if (::poll(fds.data(), fds.size(), static_cast<int>(std::min<unsigned>(ReplenishTimeoutMs(), CpuSampleTimeoutMs()))) < 0) {
        if (errno == EINTR) continue;
        Log(std::string("poll: ") + strerror(errno));
        return 1;
      }
      for (size_t i = 2; i < fds.size(); ++i)
        if (fds[i].revents & POLLIN) SpareSaidReady(owners[i]);
      if (fds[1].revents & POLLIN) ReapChildren();
      WatchCpu();
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        proto::Message msg;
        std::string text;
        std::vector<UniqueFd> received;
        proto::RecvResult r = proto::Receive(kControlFd, &msg, &text, &received);
        if (r == proto::RecvResult::kClosed) return 0;  // the server is gone; children die with us
        if (r == proto::RecvResult::kError) {
          Log(std::string("bad message from the server: ") + strerror(errno));
          continue;
        }
        if (msg.kind == proto::Kind::kJob) AcceptJob(msg, std::move(received));
      }
      Replenish();
    }
  }

  void Reject(uint64_t job_id, const std::string& why) {
    proto::Message out{proto::Kind::kRejected};
    out.job_id = job_id;
    proto::Send(kControlFd, out, why.substr(0, proto::kMaxText));
  }

  void AcceptJob(proto::Message msg, std::vector<UniqueFd> fds) {
    if (fds.size() != proto::kJobFixedFds) {
      Reject(msg.job_id, "job arrived with " + std::to_string(fds.size()) + " descriptors");
      return;
    }
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    msg.sent_ns = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
    consecutive_failures_ = 0;  // a new job gives a broken set-up another chance
    pending_.push_back(PendingJob{msg, std::move(fds)});
    DispatchPending();
  }

  // Hands waiting jobs to ready spares, oldest first on both sides.
  void DispatchPending() {
    while (!pending_.empty() && !ready_.empty()) {
      pid_t pid = ready_.front();
      ready_.pop_front();
      auto it = children_.find(pid);
      if (it == children_.end()) continue;
      Child& child = it->second;
      PendingJob& job = pending_.front();
      if (child.cgroup && job.msg.memory_bytes != child.memory_bytes) {
        jail::Status s = child.cgroup->SetMemoryLimit(job.msg.memory_bytes);
        if (!s.ok()) Log("memory limit: " + s.message());
      }
      std::vector<int> raw;
      for (const UniqueFd& fd : job.fds) raw.push_back(fd.get());
      if (!proto::Send(child.sock.get(), job.msg, "", raw)) {
        // The spare died while waiting; it is reaped as such.
        child.ready = false;
        continue;
      }
      child.job_id = job.msg.job_id;
      // The job's CPU time is counted from here: the spare's own set-up is
      // not the script's.
      // The first sample, taken right after this hand-over, is that base.
      child.cpu_limit_us = job.msg.cpu_seconds * 1000000ull;
      child.cpu_start_pending = true;
      next_cpu_sample_ = std::chrono::steady_clock::now();
      replenish_after_ = std::chrono::steady_clock::now() + kReplenishDelay;
      proto::Message started{proto::Kind::kStarted};
      started.job_id = child.job_id;
      started.pid = pid;
      UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
      std::vector<int> out_fds;
      if (pidfd) out_fds.push_back(pidfd.get());
      proto::Send(kControlFd, started, "", out_fds);
      pending_.pop_front();
    }
  }

  void SpareSaidReady(pid_t pid) {
    auto it = children_.find(pid);
    if (it == children_.end()) return;
    char buf[1024];
    ssize_t n = ::recv(it->second.sock.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n == 1 && buf[0] == 'R') {
      consecutive_failures_ = 0;
      it->second.ready = true;
      ready_.push_back(pid);
      DispatchPending();
    } else if (n > 0) {
      // Anything else is why its set-up failed; it exits next.
      it->second.setup_error.assign(buf, n);
    }
    // n == 0: the spare died; SIGCHLD brings it to ReapChildren.
  }

  size_t IdleChildren() const {
    size_t idle = 0;
    for (const auto& [pid, child] : children_)
      if (child.job_id == 0) ++idle;
    return idle;
  }

  // How long poll() may sleep before a deferred Replenish is due.
  int ReplenishTimeoutMs() const {
    if (IdleChildren() >= options_.spares + pending_.size()) return -1;
    if (!pending_.empty()) return 0;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(replenish_after_ - std::chrono::steady_clock::now());
    return std::max<int>(0, static_cast<int>(left.count()) + 1);
  }

  // Keeps `spares` children starting or ready beyond the jobs waiting. A
  // spare used by a job is replaced a moment later, not at once, so that
  // forking the next one does not compete with the job for the CPU; a job
  // that is waiting gets its child at once. When children keep failing their
  // set-up, the waiting jobs are refused with the reason rather than left to
  // time out.
  void Replenish() {
    if (pending_.empty() && std::chrono::steady_clock::now() < replenish_after_) return;
    size_t idle = IdleChildren();
    size_t wanted = options_.spares + pending_.size();
    while (idle < wanted) {
      if (consecutive_failures_ >= kMaxSetupFailures) {
        for (PendingJob& job : pending_) Reject(job.msg.job_id, "Sandbox could not be started: " + last_setup_error_);
        pending_.clear();
        return;
      }
      if (!StartSpare()) {
        ++consecutive_failures_;
        continue;
      }
      ++idle;
    }
  }

  bool StartSpare() {
    int release[2], status[2], sock[2];
    if (::pipe2(release, O_CLOEXEC) != 0) return false;
    UniqueFd release_r(release[0]), release_w(release[1]);
    if (::pipe2(status, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    UniqueFd status_r(status[0]), status_w(status[1]);
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) != 0) return false;
    UniqueFd sock_zygote(sock[0]), sock_child(sock[1]);

    Child child;
    child.memory_bytes = options_.memory_bytes;
    if (use_uid_pool_) {
      child.host_uid = LeaseHostUid();
      if (child.host_uid == 0) {
        FailPending("no free host uid in the sandbox uid range");
        return false;
      }
      policy_.outer_uid = child.host_uid;
      policy_.outer_gid = child.host_uid;
    }
    if (cgroups_) {
      jail::Status s = jail::Status::Ok();
      child.cgroup = cgroups_->CreateChild("sandbox-" + std::to_string(++serial_), options_.memory_bytes,
                                           options_.max_procs, &s);
      if (!child.cgroup) {
        ReturnHostUid(child.host_uid);
        FailPending("could not create the sandbox's cgroup: " + s.message());
        return false;
      }
      // Without a counter the watchdog sums the sandbox's processes instead.
      child.cpu = cgroups_->CreateCpuChild("sandbox-" + std::to_string(serial_), &s);
    }
    jail::ChildLimits limits;
    limits.cpu_seconds = options_.cpu_seconds;
    limits.tmp_bytes = options_.tmp_bytes;
    limits.file_size_bytes = options_.tmp_bytes;
    limits.max_procs = options_.max_procs;
    limits.address_space_bytes = cgroups_ ? 0 : footprint_ + options_.memory_bytes;
    jail::ChildFds fds{devnull_.get(), devnull_.get(), devnull_.get(), devnull_.get(), status_w.get(),
                       sock_child.get()};

    // A spare made for a job that is already waiting goes straight to it:
    // warming up would only delay that job.
    prewarm_ = pending_.empty();
    jail::StageTimes times;
    times.Mark("start");
    ::fflush(nullptr);
    if (interpreter_) {
      interpreter_->FlushStdio();
      Interpreter::BeforeFork();
    }
    pid_t pid = jail::CloneChild(policy_);
    if (pid == 0) RunChild(limits, fds, release_r.get(), times);
    int clone_errno = errno;
    if (interpreter_) Interpreter::AfterForkParent();
    if (pid < 0) {
      ReturnHostUid(child.host_uid);
      FailPending(std::string("clone: ") + strerror(clone_errno));
      return false;
    }
    std::vector<int> procs;
    if (child.cgroup)
      for (const UniqueFd& fd : child.cgroup->procs_fds()) procs.push_back(fd.get());
    if (child.cpu && child.cpu->procs_fd() >= 0) procs.push_back(child.cpu->procs_fd());
    jail::Status parent = jail::InitChildFromParent(pid, policy_, procs);
    if (parent.ok()) {
      (void)!::write(release_w.get(), "G", 1);
    } else {
      ::kill(pid, SIGKILL);
      last_setup_error_ = parent.message();
    }
    child.pid = pid;
    child.sock = std::move(sock_zygote);
    child.status = std::move(status_r);
    children_.emplace(pid, std::move(child));
    return parent.ok();
  }

  // Child side of StartSpare; never returns.
  [[noreturn]] void RunChild(const jail::ChildLimits& limits, const jail::ChildFds& fds, int release_fd,
                             jail::StageTimes times) {
    // No PyOS_AfterFork_Child here: this process never runs Python again (it
    // becomes init). The worker it forks inherits the interpreter exactly as
    // the zygote left it around its own fork, and does the after-fork work
    // once; each such step costs page faults, which are not cheap.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    times.Mark("forked");
    int report_fd = fds.spare_fd;
    jail::Status s = jail::Specialize(policy_, limits, fds, release_fd, &report_fd, &times);
    if (s.ok()) report_fd = jail::kSpareFd;
    // This process stays behind as the PID namespace's init; the script runs
    // in the worker it forks (see jail/init.h for why).
    pid_t worker = -1;
    if (s.ok()) {
      worker = ::fork();
      if (worker < 0) s = jail::Status::Errno("fork(worker)");
    }
    if (!s.ok()) {
      // The zygote reads this when it reaps a spare that never became ready.
      (void)!::send(report_fd, s.message().data(), s.message().size(), MSG_NOSIGNAL);
      ::_exit(kExitSetupFailed);
    }
    if (worker > 0) jail::RunInit(worker);
    if (interpreter_) Interpreter::AfterForkChild();
    jail::LeaveInitDescriptors();
    times.Mark("worker");
    RunWorker(times);
  }

  // The worker: warms itself, says it is ready, waits for its one job.
  [[noreturn]] void RunWorker(jail::StageTimes times) {
    try {
      if (interpreter_) {
        interpreter_->PrepareChild(policy_.environment);
        if (prewarm_) {
          interpreter_->Prewarm();
          times.Mark("prewarm");
        }
      }
    } catch (const std::exception& e) {
      std::string why = std::string("prewarm: ") + e.what();
      (void)!::send(jail::kSpareFd, why.data(), why.size(), MSG_NOSIGNAL);
      ::_exit(kExitSetupFailed);
    }
    if (::send(jail::kSpareFd, "R", 1, MSG_NOSIGNAL) != 1) ::_exit(kExitSetupFailed);

    proto::Message job;
    std::string text;
    std::vector<UniqueFd> fds;
    if (proto::Receive(jail::kSpareFd, &job, &text, &fds) != proto::RecvResult::kOk ||
        fds.size() != proto::kJobFixedFds)
      ::_exit(kExitSetupFailed);
    times.Mark("handover", job.sent_ns);
    for (int i = 1; i <= 3; ++i)
      if (::dup2(fds[i].get(), i) < 0) ::_exit(kExitSetupFailed);
    std::string payload = ReadAll(fds[0].get()), script, input;
    fds.clear();
    ::close(jail::kSpareFd);
    ApplyJobLimits(job);
    if (!proto::DecodePayload(payload, &script, &input)) {
      // Only error_types of src/document.cc's table: the server takes any
      // other from this process for a forgery (tests/unit/test_document.cc).
      WriteAll(jail::kResultFd, FailureDoc("runner_failed", "malformed job payload"));
      ::_exit(kExitSetupFailed);
    }
    payload.clear();
    payload.shrink_to_fit();
    std::string doc;
    try {
      if (!interpreter_) {  // cold mode: the interpreter starts now, on the request's time
        interpreter_ = std::make_unique<Interpreter>();
        interpreter_->PrepareChild(policy_.environment);
      }
      doc = interpreter_->Run(script, input, job.max_result_bytes);
    } catch (const std::exception& e) {
      std::string what = e.what();
      // Running out of memory inside the runner itself is still the script's doing.
      if (what.find("MemoryError") != std::string::npos)
        doc = FailureDoc("memory_limit", "Script execution error: Memory limit exceeded");
      else
        doc = FailureDoc("runner_failed", what);
    }
    times.Mark("runner");
    // stdout and stderr reach EOF before the document, so the server has all
    // of the output once the document is complete and need not wait for the
    // process to be torn down.
    ::close(STDOUT_FILENO);
    ::close(STDERR_FILENO);
    WriteAll(jail::kResultFd, WithStages(doc, times));
    ::close(jail::kResultFd);
    // No interpreter shutdown: atexit handlers and finalizers are the
    // script's, and the process is thrown away anyway.
    ::_exit(0);
  }

  // The job's own limits, lower than the server maxima the spare was built
  // with; lowering needs no privilege, and the hard limits drop too so the
  // script cannot raise them back.
  void ApplyJobLimits(const proto::Message& job) {
    struct rusage ru {};
    ::getrusage(RUSAGE_SELF, &ru);
    rlim_t used = static_cast<rlim_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1);
    struct rlimit cpu = {used + job.cpu_seconds, used + job.cpu_seconds + 1};
    ::setrlimit(RLIMIT_CPU, &cpu);
    if (!cgroups_) {
      // Counted above what this worker already maps, warmed interpreter and all.
      uint64_t limit = VirtualMemoryBytes() + job.memory_bytes;
      struct rlimit as = {limit, limit};
      ::setrlimit(RLIMIT_AS, &as);
    }
  }

  void FailPending(const std::string& why) {
    last_setup_error_ = why;
    Log("sandbox set-up failed: " + why);
  }

  void ReapChildren() {
    struct signalfd_siginfo info;
    while (::read(sigchld_.get(), &info, sizeof info) > 0) {
    }
    for (;;) {
      int status = 0;
      struct rusage ru {};
      pid_t pid = ::wait4(-1, &status, WNOHANG | __WALL, &ru);
      if (pid <= 0) return;
      auto it = children_.find(pid);
      if (it == children_.end()) continue;
      Child& child = it->second;
      ReturnHostUid(child.host_uid);
      if (child.job_id == 0) {
        // A spare that died before any job: a set-up failure.
        char why[1024];
        ssize_t n = ::recv(child.sock.get(), why, sizeof why, MSG_DONTWAIT);
        std::string reason = !child.setup_error.empty() ? child.setup_error
                             : n > 0 ? std::string(why, n)
                                     : "the sandbox exited during set-up (status " + std::to_string(status) + ")";
        if (!child.ready) {
          FailPending(reason);
          ++consecutive_failures_;
        }
        ready_.erase(std::remove(ready_.begin(), ready_.end(), pid), ready_.end());
        children_.erase(it);
        continue;
      }
      // The worker's status as init reported it; init's own when init did not
      // get to report (killed on timeout).
      int worker_status;
      if (::read(child.status.get(), &worker_status, sizeof worker_status) == sizeof worker_status)
        status = worker_status;
      proto::Message exited{proto::Kind::kExited};
      exited.job_id = child.job_id;
      exited.pid = pid;
      exited.wait_status = status;
      exited.user_us = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec;
      exited.system_us = ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
      // The init's rusage holds what it reaped; processes killed with it are
      // reaped by the kernel and missing there. The cgroup's counter has
      // every process; without one, the watchdog's last sample of the tree
      // does (up to one sampling period short). The report is the largest.
      uint64_t total_us = static_cast<uint64_t>(exited.user_us + exited.system_us);
      uint64_t counted_us = 0;
      if (child.cpu && child.cpu->UsageUs(&counted_us)) total_us = std::max(total_us, counted_us);
      total_us = std::max(total_us, child.cpu_seen_us);
      // A sandbox the watchdog ended reports at least its limit, so the
      // server's reading of a SIGKILL is the CPU limit's outcome.
      if (child.cpu_killed) total_us = std::max(total_us, child.cpu_start_us + child.cpu_limit_us + 1);
      exited.user_us = static_cast<int64_t>(total_us) - exited.system_us;
      exited.max_rss_kb = ru.ru_maxrss;
      if (child.cgroup) {
        exited.oom_killed = child.cgroup->OomKilled();
        exited.peak_memory_bytes = child.cgroup->PeakMemoryBytes();
      }
      children_.erase(it);  // removes the cgroup: every process in it is gone
      proto::Send(kControlFd, exited);
    }
  }

  // The CPU-time watchdog. A job's processes together may use its CPU limit;
  // the sandbox is killed at the first sample above it, so what it gets
  // beyond is at most one period on each CPU it can run on.
  static constexpr std::chrono::milliseconds kCpuSamplePeriod{100};
  std::chrono::steady_clock::time_point next_cpu_sample_ = std::chrono::steady_clock::time_point::max();

  bool AnyJobRunning() const {
    for (const auto& [pid, child] : children_)
      if (child.job_id != 0 && !child.cpu_killed) return true;
    return false;
  }

  unsigned CpuSampleTimeoutMs() const {
    if (next_cpu_sample_ == std::chrono::steady_clock::time_point::max()) return ~0u;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_cpu_sample_ - std::chrono::steady_clock::now());
    return static_cast<unsigned>(std::max<int64_t>(0, left.count() + 1));
  }

  // All of the sandbox's processes, live and exited, in microseconds: the
  // cgroup's counter, else the process tree below its init (one /proc pass,
  // shared by every sandbox sampled at once).
  uint64_t SandboxCpuUs(Child& child, std::optional<jail::ProcessTable>* table) {
    uint64_t us = 0;
    if (child.cpu && child.cpu->UsageUs(&us)) return us;
    if (!*table) *table = jail::ProcessTable::Read();
    return (*table)->TreeCpuUs(child.pid, &child.cpu_own_ticks);
  }

  void WatchCpu() {
    auto now = std::chrono::steady_clock::now();
    if (now < next_cpu_sample_) return;
    if (!AnyJobRunning()) {
      next_cpu_sample_ = std::chrono::steady_clock::time_point::max();
      return;
    }
    next_cpu_sample_ = now + kCpuSamplePeriod;
    std::optional<jail::ProcessTable> table;
    for (auto& [pid, child] : children_) {
      if (child.job_id == 0 || child.cpu_killed) continue;
      uint64_t used = SandboxCpuUs(child, &table);
      if (child.cpu_start_pending) {
        child.cpu_start_pending = false;
        child.cpu_start_us = used;
      }
      child.cpu_seen_us = std::max(child.cpu_seen_us, used);
      if (child.cpu_limit_us != 0 && used > child.cpu_start_us + child.cpu_limit_us) {
        // The init: with it goes every process of the PID namespace (without
        // one, the session the child made for itself: the server's rule).
        ::kill(pid, SIGKILL);
        if (!policy_.layers.namespaces) ::kill(-pid, SIGKILL);
        child.cpu_killed = true;
      }
    }
  }

  // Host uids: one per live child, never two children on one. A uid comes
  // back when its child is reaped; as PID 1 of its namespace that child was
  // the last of its processes (the kernel reaps the rest before it).
  uid_t LeaseHostUid() {
    for (uint32_t i = 0; i < options_.host_uid_count; ++i) {
      uid_t uid = options_.host_uid_first + (next_uid_ + i) % options_.host_uid_count;
      if (leased_uids_.insert(uid).second) {
        next_uid_ = (next_uid_ + i + 1) % options_.host_uid_count;
        return uid;
      }
    }
    return 0;
  }
  void ReturnHostUid(uid_t uid) {
    if (uid != 0) leased_uids_.erase(uid);
  }

  // On the way out: every child is killed and reaped before the zygote
  // exits, so when the server has reaped the zygote none of its sandboxes
  // (nor their host uids) is still alive.
  void EndChildren() {
    for (const auto& [pid, child] : children_) ::kill(pid, SIGKILL);
    for (auto& [pid, child] : children_) {
      while (::waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
      }
    }
    children_.clear();
  }

  static constexpr unsigned kMaxSetupFailures = 3;
  static constexpr std::chrono::milliseconds kReplenishDelay{20};
  std::chrono::steady_clock::time_point replenish_after_{};
  ZygoteOptions options_;
  jail::JailPolicy policy_;
  std::unique_ptr<Interpreter> interpreter_;
  std::unique_ptr<jail::CgroupManager> cgroups_;
  UniqueFd devnull_;
  UniqueFd sigchld_;
  uint64_t footprint_ = 0;
  uint64_t serial_ = 0;
  unsigned consecutive_failures_ = 0;
  bool prewarm_ = true;  // read by the child StartSpare is about to create
  bool use_uid_pool_ = false;
  uint32_t next_uid_ = 0;
  std::set<uid_t> leased_uids_;
  std::string last_setup_error_;
  std::map<pid_t, Child> children_;
  std::deque<pid_t> ready_;
  std::deque<PendingJob> pending_;
};

}  // namespace

namespace {
// The wire form of ZygoteOptions: its numbers as one fixed struct, then the
// three cgroup paths, each after its length.
struct WireOptions {
  uint32_t size = sizeof(WireOptions);  // both ends are one binary; a check all the same
  int32_t mode;
  jail::Layers layers;
  uint32_t sandbox_uid, spares, cpu_seconds, max_procs, host_uid_first, host_uid_count;
  uint64_t memory_bytes, tmp_bytes;
  int32_t cgroup_version;
};

void PutU32(std::string* out, uint32_t value) { out->append(reinterpret_cast<const char*>(&value), sizeof value); }

bool GetU32(const std::string& in, size_t* at, uint32_t* value) {
  if (in.size() - *at < sizeof *value) return false;
  std::memcpy(value, in.data() + *at, sizeof *value);
  *at += sizeof *value;
  return true;
}

void PutString(std::string* out, const std::string& s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

bool GetString(const std::string& in, size_t* at, std::string* s) {
  uint32_t len;
  if (!GetU32(in, at, &len) || in.size() - *at < len) return false;
  s->assign(in, *at, len);
  *at += len;
  return true;
}
}  // namespace

std::string EncodeOptions(const ZygoteOptions& o) {
  WireOptions w{};
  w.size = sizeof w;
  w.mode = o.mode == Mode::kCold ? 1 : 0;
  w.layers = o.layers;
  w.sandbox_uid = o.sandbox_uid;
  w.spares = o.spares;
  w.cpu_seconds = o.cpu_seconds;
  w.max_procs = o.max_procs;
  w.host_uid_first = o.host_uid_first;
  w.host_uid_count = o.host_uid_count;
  w.memory_bytes = o.memory_bytes;
  w.tmp_bytes = o.tmp_bytes;
  w.cgroup_version = o.cgroup_version;
  std::string out(reinterpret_cast<const char*>(&w), sizeof w);
  PutString(&out, o.cgroup_memory_base);
  PutString(&out, o.cgroup_pids_base);
  PutString(&out, o.cgroup_cpuacct_base);
  return out;
}

bool DecodeOptions(const std::string& text, ZygoteOptions* o) {
  WireOptions w;
  if (text.size() < sizeof w) return false;
  std::memcpy(&w, text.data(), sizeof w);
  if (w.size != sizeof w || (w.mode != 0 && w.mode != 1)) return false;
  o->mode = w.mode == 1 ? Mode::kCold : Mode::kZygote;
  o->layers = w.layers;
  o->sandbox_uid = w.sandbox_uid;
  o->spares = w.spares;
  o->cpu_seconds = w.cpu_seconds;
  o->max_procs = w.max_procs;
  o->host_uid_first = w.host_uid_first;
  o->host_uid_count = w.host_uid_count;
  o->memory_bytes = w.memory_bytes;
  o->tmp_bytes = w.tmp_bytes;
  o->cgroup_version = w.cgroup_version;
  size_t at = sizeof w;
  return GetString(text, &at, &o->cgroup_memory_base) && GetString(text, &at, &o->cgroup_pids_base) &&
         GetString(text, &at, &o->cgroup_cpuacct_base) && at == text.size();
}

// The wire form of ReadyReport: the number of layers; each layer as its
// enum value, its active flag, its detail and its mechanism; the versions.
std::string EncodeReady(const ReadyReport& r) {
  std::string out;
  PutU32(&out, static_cast<uint32_t>(r.layers.size()));
  for (const jail::LayerReport& layer : r.layers) {
    PutU32(&out, static_cast<uint32_t>(layer.layer));
    PutU32(&out, layer.active ? 1 : 0);
    PutString(&out, layer.detail);
    PutString(&out, layer.mechanism);
  }
  PutString(&out, r.versions);
  return out;
}

bool DecodeReady(const std::string& text, ReadyReport* r) {
  constexpr uint32_t kLayers = std::size(jail::kLayerNames);
  size_t at = 0;
  uint32_t count;
  if (!GetU32(text, &at, &count) || count > kLayers) return false;
  r->layers.assign(count, {});
  for (jail::LayerReport& layer : r->layers) {
    uint32_t value, active;
    if (!GetU32(text, &at, &value) || value >= kLayers || !GetU32(text, &at, &active) || active > 1 ||
        !GetString(text, &at, &layer.detail) || !GetString(text, &at, &layer.mechanism))
      return false;
    layer.layer = static_cast<jail::Layer>(value);
    layer.active = active == 1;
  }
  return GetString(text, &at, &r->versions) && at == text.size();
}

int ZygoteMain() {
  proto::Message msg;
  std::string text;
  std::vector<UniqueFd> fds;
  ZygoteOptions options;
  if (proto::Receive(kControlFd, &msg, &text, &fds) != proto::RecvResult::kOk || msg.kind != proto::Kind::kConfigure ||
      !DecodeOptions(text, &options)) {
    Log("the first message from the server was not a valid configuration");
    return 1;
  }
  return Zygote(options).Main();
}

}  // namespace wj::embed
