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

#include "embed/heap.h"
#include "embed/interpreter.h"
#include "embed/jailer.h"
#include "embed/worker.h"
#include "embed/protocol.h"
#include "jail/cgroups.h"
#include "jail/default_policy.h"
#include "jail/mounts.h"
#include "jail/nest.h"
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

    // An unprivileged zygote becomes root of a user namespace of its own, to
    // be allowed to fork workers into nests (jail/nest.h); a failure here
    // shows as the namespaces layer failing its probe.
    if (::geteuid() != 0 && options_.layers.namespaces) {
      Status own = jail::TakeOwnUserNs();
      if (!own.ok()) Log("user namespace of its own: " + own.message());
    }

    ReadyReport ready;
    try {
      BuildPolicy();
      ready.layers = Probe();
      // Before the interpreter: the jailer is a copy of this process.
      if (policy_.layers.namespaces && !StartJailer(policy_, options_.tmp_bytes, &jailer_pid_, &jailer_))
        throw std::runtime_error(std::string("could not start the jailer: ") + strerror(errno));
      if (options_.mode == Mode::kZygote) {
        interpreter_ = std::make_unique<Interpreter>(/*for_forking=*/true);
        interpreter_->WarmUp();
        interpreter_->PrepareZygote(policy_.environment);
        interpreter_->FlushStdio();
        std::vector<std::string> dirs = interpreter_->SysPathDirs();
        policy_.binds = jail::ResolveBindMounts(dirs);
        if (jailer_) {
          std::string joined;
          for (const std::string& dir : dirs) joined += dir + '\0';
          proto::Send(jailer_.get(), proto::Message{proto::Kind::kJailerDirs}, joined);
        }
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
    ::fflush(nullptr);  // once: the zygote writes nothing through stdio from here on
    if (interpreter_) {
      HeapLayout heap = CollapseForForking();
      Log("heap: " + std::to_string(heap.huge_bytes >> 20) + " of " + std::to_string(heap.anonymous_bytes >> 20) +
          " MiB of anonymous memory in 2 MiB pages (" + std::to_string(heap.failed_ranges) + " ranges not collapsed)");
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
  // One sandbox: while its nest is being made (nesting_, keyed by serial),
  // then its worker: a spare until a job is handed to it (children_, keyed
  // by the worker's pid), then, once the worker is reaped, until its nest's
  // init is gone too (dying_).
  struct Child {
    pid_t pid = -1;   // the worker
    UniqueFd sock;    // the zygote's end of the worker's hand-over socket
    jail::Nest nest;  // its namespaces (nest.init -1: none)
    // Destroyed in reverse: the memory and pids cgroups (which kill what is
    // left) before the CPU one.
    std::unique_ptr<jail::CpuCgroup> cpu;  // its CPU-time counter, if the cgroup has one
    std::unique_ptr<jail::ChildCgroup> cgroup;
    bool ready = false;    // set up and waiting for a job
    bool prewarmed = false;  // asked to warm up (kPrewarm) while the server was idle
    bool memory_refused = false;   // its job's memory limit could not be set: ended as over it
    uint64_t job_id = 0;   // 0 while a spare
    uint64_t memory_bytes = 0;
    uid_t host_uid = 0;    // leased from the pool (0: none)
    std::string setup_error;  // what the child said when its set-up failed
    // The worker's end, kept until the init's: its wait status and rusage.
    int wait_status = 0;
    struct rusage usage {};
    bool init_gone = false;
    // CPU time of all its processes, in microseconds: when the job began,
    // the job's limit, the highest sample, and whether the watchdog killed it.
    uint64_t cpu_start_us = 0;
    bool cpu_start_pending = false;
    uint64_t cpu_limit_us = 0;
    uint64_t cpu_seen_us = 0;
    bool cpu_killed = false;
    // Without a cgroup counter, per tree (see ProcessTable): the worker's, and
    // the orphans' under the nest's init.
    std::map<pid_t, uint64_t> cpu_own_ticks, cpu_own_ticks_nest;

    // The cgroup.procs descriptors its processes are written to.
    std::vector<int> CgroupProcs() const {
      std::vector<int> procs;
      if (cgroup)
        for (const UniqueFd& fd : cgroup->procs_fds()) procs.push_back(fd.get());
      if (cpu && cpu->procs_fd() >= 0) procs.push_back(cpu->procs_fd());
      return procs;
    }
    // Ends every process of the sandbox: the init takes its PID namespace
    // with it; without one, the worker's session.
    void KillAll(bool has_session) const {
      if (nest.pidfd) ::syscall(SYS_pidfd_send_signal, nest.pidfd.get(), SIGKILL, nullptr, 0);
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        if (has_session) ::kill(-pid, SIGKILL);
      }
    }
  };
  struct PendingJob {
    proto::Message msg;
    std::vector<UniqueFd> fds;
  };

  void BuildPolicy() {
    Status s = jail::DefaultPolicy(options_.layers, options_.sandbox_uid, &policy_);
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
    enum class Source { kControl, kSigchld, kJailer, kSpare, kDying };
    std::vector<std::pair<Source, size_t>> owners;  // what each pollfd is
    std::vector<pid_t> spares;
    for (;;) {
      fds.clear();
      owners.clear();
      spares.clear();
      fds.push_back({kControlFd, POLLIN, 0});
      owners.push_back({Source::kControl, 0});
      fds.push_back({sigchld_.get(), POLLIN, 0});
      owners.push_back({Source::kSigchld, 0});
      if (jailer_) {
        fds.push_back({jailer_.get(), POLLIN, 0});
        owners.push_back({Source::kJailer, 0});
      }
      for (auto& [pid, child] : children_) {
        if (child.ready || child.job_id != 0) continue;
        fds.push_back({child.sock.get(), POLLIN, 0});
        owners.push_back({Source::kSpare, spares.size()});
        spares.push_back(pid);
      }
      for (size_t i = 0; i < dying_.size(); ++i) {
        fds.push_back({dying_[i].nest.pidfd.get(), POLLIN, 0});
        owners.push_back({Source::kDying, i});
      }
      unsigned timeout = std::min({static_cast<unsigned>(ReplenishTimeoutMs()), CpuSampleTimeoutMs(), PrewarmTimeoutMs()});
      if (::poll(fds.data(), fds.size(), static_cast<int>(timeout)) < 0) {
        if (errno == EINTR) continue;
        Log(std::string("poll: ") + strerror(errno));
        return 1;
      }
      bool control = false, reap = false, jailer = false, buried = false;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        switch (owners[i].first) {
          case Source::kControl: control = true; break;
          case Source::kSigchld: reap = true; break;
          case Source::kJailer: jailer = true; break;
          case Source::kSpare: SpareSaidReady(spares[owners[i].second]); break;
          case Source::kDying: dying_[owners[i].second].init_gone = true; buried = true; break;
        }
      }
      if (buried) BuryDead();
      if (reap) ReapChildren();
      if (jailer && !NestArrived()) {
        Log("the jailer is gone");
        return 1;
      }
      WatchCpu();
      if (control) {
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
      MaybePrewarm();
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

  // The ready spare a job goes to: a warmed one first (its request pays
  // fewer copy-on-write faults), but only one that holds less memory than
  // the job's own limit (a warm-up copies a few MiB), else a fresh one.
  // end() when only warmed spares are ready and none is below the job's
  // limit: the job waits for the fresh spare Replenish makes for it (it
  // keeps a spare beyond every waiting job).
  std::deque<pid_t>::iterator PickSpare(uint64_t memory_bytes) {
    auto below_limit = [&](const Child& c) {
      if (!c.cgroup || memory_bytes >= c.memory_bytes) return true;
      return c.cgroup->MemoryUsageBytes() < memory_bytes;
    };
    auto pick = std::find_if(ready_.begin(), ready_.end(), [&](pid_t p) {
      const Child& c = children_.at(p);
      return c.prewarmed && below_limit(c);
    });
    if (pick != ready_.end()) return pick;
    return std::find_if(ready_.begin(), ready_.end(), [&](pid_t p) { return !children_.at(p).prewarmed; });
  }

  // Hands waiting jobs to ready spares, oldest first on both sides.
  void DispatchPending() {
    // Oldest job first; one that no ready spare suits waits without holding
    // up the jobs behind it.
    for (auto job_it = pending_.begin(); job_it != pending_.end() && !ready_.empty();) {
      PendingJob& job = *job_it;
      auto pick = PickSpare(job.msg.memory_bytes);
      if (pick == ready_.end()) {
        ++job_it;
        continue;
      }
      pid_t pid = *pick;
      ready_.erase(pick);
      auto it = children_.find(pid);
      if (it == children_.end()) continue;
      Child& child = it->second;
      if (child.cgroup && job.msg.memory_bytes != child.memory_bytes) {
        Status s = child.cgroup->SetMemoryLimit(job.msg.memory_bytes);
        if (!s.ok()) {
          // cgroup v1 refuses a limit below what the cgroup holds (v2 would
          // OOM-kill it): the sandbox needs more than the job's limit before
          // the script even starts. The job never reaches it, and ends as
          // the memory limit's outcome, never with the server's limit.
          Log("memory limit: " + s.message() + "; the job ends as over its memory limit");
          child.memory_refused = true;
        }
      }
      std::vector<int> raw;
      for (const UniqueFd& fd : job.fds) raw.push_back(fd.get());
      if (child.memory_refused) {
        child.KillAll(!policy_.layers.namespaces);
      } else if (!proto::Send(child.sock.get(), job.msg, "", raw)) {
        // The spare died while waiting; it is reaped as such.
        child.ready = false;
        continue;
      }
      child.job_id = job.msg.job_id;
      last_job_event_ = std::chrono::steady_clock::now();
      // The job's CPU time is counted from here: the spare's own set-up is
      // not the script's.
      // The first sample, taken right after this hand-over, is that base.
      child.cpu_limit_us = job.msg.cpu_seconds * 1000000ull;
      child.cpu_start_pending = true;
      next_cpu_sample_ = std::chrono::steady_clock::now();
      replenish_after_ = std::chrono::steady_clock::now() + kReplenishDelay;
      // The server kills the sandbox with this pidfd: the init's, whose end
      // is the end of every process in the nest.
      proto::Message started{proto::Kind::kStarted};
      started.job_id = child.job_id;
      started.pid = child.nest.init > 0 ? child.nest.init : pid;
      UniqueFd pidfd(child.nest.pidfd ? ::fcntl(child.nest.pidfd.get(), F_DUPFD_CLOEXEC, 0)
                                      : static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
      std::vector<int> out_fds;
      if (pidfd) out_fds.push_back(pidfd.get());
      proto::Send(kControlFd, started, "", out_fds);
      job_it = pending_.erase(job_it);
    }
  }

  // Pre-warm, by measurement (ARCHITECTURE.md). A spare that has run the
  // runner's small pandas script answers a pandas request in a seventh of
  // the time, having copied the pages it touches; but that costs a request's
  // worth of CPU, wasted when requests come back to back. So spares are
  // warmed only while the server is idle — no job running or waiting for
  // kPrewarmAfterIdle — one at a time, and only while another spare stays
  // ready for a request that arrives meanwhile.
  static constexpr std::chrono::milliseconds kPrewarmAfterIdle{50};
  std::chrono::steady_clock::time_point last_job_event_{};

  bool PrewarmWanted() const {
    if (!interpreter_ || !pending_.empty() || AnyJobRunning() || ready_.size() < 2) return false;
    for (const auto& [pid, child] : children_)
      if (child.job_id == 0 && !child.ready) return false;  // one warming (or starting) at a time
    for (pid_t pid : ready_) {
      auto it = children_.find(pid);
      if (it != children_.end() && !it->second.prewarmed) return true;
    }
    return false;
  }

  unsigned PrewarmTimeoutMs() const {
    if (!PrewarmWanted()) return ~0u;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(last_job_event_ + kPrewarmAfterIdle -
                                                                      std::chrono::steady_clock::now());
    return static_cast<unsigned>(std::max<int64_t>(0, left.count() + 1));
  }

  void MaybePrewarm() {
    if (!PrewarmWanted() || std::chrono::steady_clock::now() < last_job_event_ + kPrewarmAfterIdle) return;
    for (auto it = ready_.begin(); it != ready_.end(); ++it) {
      Child& child = children_.at(*it);
      if (child.prewarmed) continue;
      ready_.erase(it);
      child.ready = false;  // until it says ready again (SpareSaidReady)
      child.prewarmed = true;
      proto::Send(child.sock.get(), proto::Message{proto::Kind::kPrewarm});
      return;
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
    size_t idle = nesting_.size();
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

  // Begins a spare: its host uid and cgroups, then its nest from the jailer
  // (the worker is forked when the nest arrives: NestArrived), or without
  // namespaces its worker at once.
  bool StartSpare() {
    Child child;
    child.memory_bytes = options_.memory_bytes;
    if (use_uid_pool_) {
      child.host_uid = LeaseHostUid();
      if (child.host_uid == 0) {
        FailPending("no free host uid in the sandbox uid range");
        return false;
      }
    }
    ++serial_;
    if (cgroups_) {
      const std::string name = jail::SandboxCgroupName(::getpid(), serial_);
      Status s = Status::Ok();
      child.cgroup = cgroups_->CreateChild(name, options_.memory_bytes, options_.max_procs, &s);
      if (!child.cgroup) {
        ReturnHostUid(child.host_uid);
        FailPending("could not create the sandbox's cgroup: " + s.message());
        return false;
      }
      // Without a counter the watchdog sums the sandbox's processes instead.
      child.cpu = cgroups_->CreateCpuChild(name, &s);
    }
    if (!jailer_) return ForkWorker(std::move(child));
    proto::Message want{proto::Kind::kNestWanted};
    want.job_id = serial_;
    want.host_uid = child.host_uid;
    if (!proto::Send(jailer_.get(), want, "", child.CgroupProcs())) {
      ReturnHostUid(child.host_uid);
      FailPending(std::string("could not ask the jailer for a nest: ") + strerror(errno));
      return false;
    }
    nesting_.emplace(serial_, std::move(child));
    return true;
  }

  // The jailer's answer to a kNestWanted. False when the jailer is gone.
  bool NestArrived() {
    proto::Message msg;
    std::string text;
    std::vector<UniqueFd> fds;
    proto::RecvResult r = proto::Receive(jailer_.get(), &msg, &text, &fds);
    if (r == proto::RecvResult::kClosed) return false;
    if (r == proto::RecvResult::kError) return errno == EAGAIN || errno == EINTR;
    auto it = nesting_.find(msg.job_id);
    if (it == nesting_.end()) return true;
    Child child = std::move(it->second);
    nesting_.erase(it);
    if (msg.kind == proto::Kind::kNestMade) {
      if (jail::Nest::FromFds(msg.pid, std::move(fds), &child.nest)) {
        if (!ForkWorker(std::move(child))) ++consecutive_failures_;
        return true;
      }
    }
    ReturnHostUid(child.host_uid);
    FailPending(msg.kind == proto::Kind::kNestFailed ? text : "the jailer's answer was malformed");
    ++consecutive_failures_;
    return true;
  }

  // Forks the spare's worker (into its nest's PID namespace, if it has one):
  // the one fork of the interpreter a request costs.
  bool ForkWorker(Child child) {
    int sock[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) != 0) {
      Retire(std::move(child), std::string("socketpair: ") + strerror(errno));
      return false;
    }
    UniqueFd sock_zygote(sock[0]), sock_child(sock[1]);
    WorkerStart start;
    start.policy = &policy_;
    start.limits.cpu_seconds = options_.cpu_seconds;
    start.limits.tmp_bytes = options_.tmp_bytes;
    start.limits.file_size_bytes = options_.tmp_bytes;
    start.limits.max_procs = options_.max_procs;
    start.limits.address_space_bytes = cgroups_ ? 0 : footprint_ + options_.memory_bytes;
    start.fds = jail::ChildFds{devnull_.get(), devnull_.get(), devnull_.get(), devnull_.get(), devnull_.get(),
                               sock_child.get()};
    start.nest = child.nest.pidfd ? &child.nest : nullptr;
    start.cgroup_procs = child.CgroupProcs();
    start.memory_by_cgroup = cgroups_ != nullptr;
    start.interpreter = interpreter_.get();
    start.times.Mark("start");
    if (child.nest.pidfd) {
      Status aim = jail::AimForkAtNest(child.nest);
      if (!aim.ok()) {
        Retire(std::move(child), aim.message());
        return false;
      }
    }
    // Nothing around fork() on this side (Interpreter::AfterForkChild says
    // why): each page the zygote writes while spares share it is a copy.
    pid_t pid = ::fork();
    if (pid == 0) RunWorker(std::move(start));
    int fork_errno = errno;
    if (pid < 0) {
      Retire(std::move(child), std::string("fork: ") + strerror(fork_errno));
      return false;
    }
    child.pid = pid;
    child.sock = std::move(sock_zygote);
    children_.emplace(pid, std::move(child));
    return true;
  }

  // A sandbox that will not run a job: its nest is ended, and what it holds
  // is given back once its init is gone.
  void Retire(Child child, const std::string& why) {
    FailPending(why);
    child.pid = -1;
    child.job_id = 0;
    child.KillAll(false);
    if (child.nest.pidfd) {
      dying_.push_back(std::move(child));
    } else {
      ReturnHostUid(child.host_uid);
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
      if (pid == jailer_pid_) {
        // The loop sees its socket close and stops serving.
        Log("the jailer exited (status " + std::to_string(status) + ")");
        jailer_pid_ = -1;
        continue;
      }
      auto it = children_.find(pid);
      if (it == children_.end()) continue;
      Child child = std::move(it->second);
      children_.erase(it);
      ready_.erase(std::remove(ready_.begin(), ready_.end(), pid), ready_.end());
      child.wait_status = status;
      child.usage = ru;
      if (child.job_id == 0) {
        // A spare that died before any job: a set-up failure.
        char why[1024];
        ssize_t n = ::recv(child.sock.get(), why, sizeof why, MSG_DONTWAIT);
        std::string reason = !child.setup_error.empty() ? child.setup_error
                             : n > 0 ? std::string(why, n)
                             : child.cgroup && child.cgroup->OomKilled()
                                 ? "the sandbox ran out of memory during set-up: the memory limit is below what the "
                                   "warm interpreter needs"
                                 : "the sandbox exited during set-up (status " + std::to_string(status) + ")";
        if (!child.ready) {
          FailPending(reason);
          ++consecutive_failures_;
        }
      }
      // Whatever the script left running ends now; the report waits until
      // it has (the init's pidfd says so), so that it counts all of it.
      child.KillAll(!policy_.layers.namespaces);
      if (child.nest.pidfd) {
        dying_.push_back(std::move(child));
      } else {
        Finish(std::move(child));
      }
    }
  }

  // Sandboxes whose init is gone: every one of their processes is.
  void BuryDead() {
    for (size_t i = 0; i < dying_.size();) {
      if (!dying_[i].init_gone) {
        ++i;
        continue;
      }
      Child child = std::move(dying_[i]);
      dying_.erase(dying_.begin() + static_cast<std::ptrdiff_t>(i));
      Finish(std::move(child));
    }
  }

  // The end of a sandbox whose processes are all gone: its report to the
  // server if it ran a job; its host uid and cgroups (removed with `child`).
  void Finish(Child child) {
    ReturnHostUid(child.host_uid);
    if (child.job_id == 0) return;
    last_job_event_ = std::chrono::steady_clock::now();
    const struct rusage& ru = child.usage;
    proto::Message exited{proto::Kind::kExited};
    exited.job_id = child.job_id;
    exited.pid = child.nest.init > 0 ? child.nest.init : child.pid;
    exited.wait_status = child.wait_status;
    exited.user_us = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec;
    exited.system_us = ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
    // The worker's rusage holds what it reaped; orphans reaped by the init,
    // and processes killed with it, are missing there. The cgroup's counter
    // has every process; without one, the watchdog's last sample of the
    // tree does (up to one sampling period short). The report is the largest.
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
      exited.oom_killed = child.cgroup->OomKilled() || child.memory_refused;
      exited.peak_memory_bytes = child.cgroup->PeakMemoryBytes();
    }
    proto::Send(kControlFd, exited);
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
    // The worker's tree, and the orphans its processes left to the init.
    us = (*table)->TreeCpuUs(child.pid, &child.cpu_own_ticks);
    if (child.nest.init > 0) us += (*table)->TreeCpuUs(child.nest.init, &child.cpu_own_ticks_nest);
    return us;
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
        child.KillAll(!policy_.layers.namespaces);
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

  // On the way out: every sandbox is ended before the zygote exits, so when
  // the server has reaped the zygote none of its sandboxes (nor their host
  // uids) is still alive. Inits are the jailer's children: their pidfds say
  // when they are gone.
  void EndChildren() {
    for (const auto& [pid, child] : children_) child.KillAll(!policy_.layers.namespaces);
    for (const Child& child : dying_) child.KillAll(false);
    for (auto& [pid, child] : children_) {
      while (::waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
      }
      if (child.nest.pidfd) dying_.push_back(std::move(child));
    }
    children_.clear();
    for (Child& child : dying_) {
      struct pollfd p = {child.nest.pidfd.get(), POLLIN, 0};
      while (::poll(&p, 1, 5000) < 0 && errno == EINTR) {
      }
    }
    dying_.clear();
    if (jailer_pid_ > 0) {
      jailer_.reset();  // it exits when its socket closes
      ::kill(jailer_pid_, SIGKILL);
      while (::waitpid(jailer_pid_, nullptr, __WALL) < 0 && errno == EINTR) {
      }
    }
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
  bool use_uid_pool_ = false;
  uint32_t next_uid_ = 0;
  std::set<uid_t> leased_uids_;
  std::string last_setup_error_;
  std::map<pid_t, Child> children_;
  std::map<uint64_t, Child> nesting_;  // by serial, until the jailer answers
  std::vector<Child> dying_;
  pid_t jailer_pid_ = -1;
  UniqueFd jailer_;
  std::deque<pid_t> ready_;
  std::deque<PendingJob> pending_;
};

}  // namespace

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
