#include "src/zygote_client.h"

#include <algorithm>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "jail/cgroups.h"
#include "jail/environment.h"
#include "src/log.h"

namespace wj {

Job::Job(uint64_t id, bool kill_group)
    : id_(id), kill_group_(kill_group), event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void Job::ClearEvent() {
  uint64_t value;
  (void)!::read(event_.get(), &value, sizeof value);
}

Job::State Job::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

bool Job::Finished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.exited || state_.rejected || state_.lost;
}

void Job::Update(const std::function<void(State&)>& change) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    change(state_);
  }
  uint64_t one = 1;
  (void)!::write(event_.get(), &one, sizeof one);
}

void Job::Kill() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!state_.started || state_.exited) return;
  // The pidfd names exactly this child even if its pid were reused.
  if (pidfd_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  else ::kill(state_.pid, SIGKILL);
  if (kill_group_) ::kill(-state_.pid, SIGKILL);
}

void Job::SetDeadline(std::chrono::steady_clock::time_point deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  deadline_ = deadline;
}

bool Job::DeadlinePassed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return deadline_ && std::chrono::steady_clock::now() >= *deadline_;
}

ZygoteClient::ZygoteClient(embed::ZygoteOptions options, RecyclePolicy recycle)
    : options_(std::move(options)), recycle_(recycle) {}

ZygoteClient::~ZygoteClient() { Stop(); }

std::shared_ptr<ZygoteClient::Instance> ZygoteClient::Launch(std::string* error) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    *error = std::string("socketpair: ") + strerror(errno);
    return nullptr;
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  // The half of the host uid range no live zygote leases from (with at most
  // one zygote retiring at a time, there is always one): the other half than
  // the last zygote's, so that after a crash the dying zygote's sandboxes
  // (killed by PR_SET_PDEATHSIG, not yet gone) do not meet new ones on a uid.
  int uid_half;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uid_half = 1 - last_uid_half_;
    for (const auto& other : instances_)
      if (!other->finished && other->uid_half == uid_half) uid_half = 1 - uid_half;
    last_uid_half_ = uid_half;
  }
  embed::ZygoteOptions options = options_;
  options.host_uid_count /= 2;
  options.host_uid_first += uid_half * options.host_uid_count;
  // Everything the child needs is prepared before fork: between fork and
  // exec in a multi-threaded process only async-signal-safe calls are made.
  // No arguments beyond the subcommand: a sandbox's /proc/1/cmdline is this.
  std::vector<std::string> args = {"warmjail", "__zygote"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = jail::SandboxEnvironment();
  // OpenBLAS reads these when numpy loads it, in the zygote; on some CPUs
  // its core detection needs the host's hint. Scripts never see them (their
  // environment is reset in the sandbox).
  for (const char* name : {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"})
    if (const char* value = std::getenv(name)) env.push_back(std::string(name) + "=" + value);
  // Every library function is bound when the zygote loads it, not at its
  // first call in each child: a lazy binding there runs the dynamic linker
  // and writes a GOT page, one more copy of the zygote, per sandbox.
  env.push_back("LD_BIND_NOW=1");
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);

  pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + strerror(errno);
    return nullptr;
  }
  if (pid == 0) {
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (theirs.get() == embed::kControlFd) ::fcntl(embed::kControlFd, F_SETFD, 0);
    else if (::dup2(theirs.get(), embed::kControlFd) < 0) ::_exit(127);
    ::syscall(SYS_close_range, 4u, ~0u, 0u);
    ::execve("/proc/self/exe", argv.data(), envp.data());
    ::_exit(127);
  }
  theirs.reset();
  // A socket buffer holds the configuration until the zygote reads it.
  if (!proto::Send(ours.get(), proto::Message{proto::Kind::kConfigure}, embed::EncodeOptions(options))) {
    *error = std::string("sending the zygote its configuration: ") + strerror(errno);
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    return nullptr;
  }

  // Wait for Ready: the zygote imports numpy and pandas and probes the jail.
  struct pollfd pfd = {ours.get(), POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&pfd, 1, 120000);
  } while (rc < 0 && errno == EINTR);
  proto::Message msg;
  std::string text;
  std::vector<UniqueFd> fds;
  proto::RecvResult r = rc > 0 ? proto::Receive(ours.get(), &msg, &text, &fds) : proto::RecvResult::kError;
  embed::ReadyReport report;
  if (r != proto::RecvResult::kOk || msg.kind != proto::Kind::kReady || !embed::DecodeReady(text, &report)) {
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    *error = rc == 0                          ? "the zygote did not become ready within 120 s"
             : r == proto::RecvResult::kOk ? "the zygote's ready report is malformed"
                                           : "the zygote exited during start-up";
    return nullptr;
  }
  auto instance = std::make_shared<Instance>();
  instance->pid = pid;
  instance->sock = std::move(ours);
  instance->started = std::chrono::steady_clock::now();
  instance->uid_half = uid_half;
  for (const jail::LayerReport& layer : report.layers)
    if (layer.layer == jail::Layer::kNamespaces) instance->pid_namespace = layer.active;
  instance->report = std::move(report);
  return instance;
}

void ZygoteClient::Install(std::shared_ptr<Instance> instance) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) ::shutdown(instance->sock.get(), SHUT_RDWR);  // started as the server stopped: it ends at once
  if (current_) {
    // The old zygote takes no new jobs; it exits once its last job is done
    // (end of its control socket), and its spares with it.
    current_->retiring = true;
    if (current_->in_flight == 0) ::shutdown(current_->sock.get(), SHUT_WR);
  }
  instance->reader = std::thread(&ZygoteClient::ReaderLoop, this, instance.get());
  last_report_ = instance->report;
  current_ = instance;
  instances_.push_back(std::move(instance));
  ready_ = true;
  changed_.notify_all();
}

bool ZygoteClient::Start(std::string* error) {
  std::shared_ptr<Instance> instance = Launch(error);
  if (!instance) return false;
  Install(std::move(instance));
  return true;
}

bool ZygoteClient::RecycleDue() const {
  if (!current_ || current_->retiring) return false;
  // One retiring zygote at a time: the host uid range has two halves.
  for (const auto& other : instances_)
    if (other != current_ && !other->finished) return false;
  if (recycle_.requests && current_->submitted >= recycle_.requests) return true;
  return recycle_.seconds &&
         std::chrono::steady_clock::now() - current_->started >= std::chrono::seconds(recycle_.seconds);
}

void ZygoteClient::JoinFinished() {
  std::vector<std::shared_ptr<Instance>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = instances_.begin(); it != instances_.end();) {
      if ((*it)->finished) {
        done.push_back(*it);
        it = instances_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& instance : done)
    if (instance->reader.joinable()) instance->reader.join();
}

void ZygoteClient::StartSupervisor() {
  supervisor_ = std::thread([this] {
    auto backoff = std::chrono::milliseconds(50);
    for (;;) {
      bool recycle = false;
      {
        std::unique_lock<std::mutex> lock(mu_);
        changed_.wait_for(lock, std::chrono::seconds(1),
                          [this] { return stopping_ || !ready_ || RecycleDue(); });
        if (stopping_) {
          // Every zygote cleans up before it exits (its sandboxes' cgroups).
          // One this thread started (a restart or a recycle) is killed when
          // this thread ends — PR_SET_PDEATHSIG follows the thread that
          // forked, not the process — so the thread ends only once they are
          // gone. It used to end at once, and a recycled zygote was killed
          // with its spares' cgroups left behind.
          changed_.wait(lock, [this] {
            return std::all_of(instances_.begin(), instances_.end(), [](const auto& i) { return i->finished; });
          });
          return;
        }
        recycle = ready_ && RecycleDue();
        if (ready_ && !recycle) {
          lock.unlock();
          JoinFinished();
          continue;
        }
      }
      JoinFinished();
      std::string error;
      std::shared_ptr<Instance> instance = Launch(&error);
      if (instance) {
        Install(std::move(instance));
        if (recycle) {
          recycles_++;
          LogEvent("zygote_recycled", {{"recycles", recycles_.load()}});
        } else {
          restarts_++;
          LogEvent("zygote_restarted", {{"restarts", restarts_.load()}});
        }
        backoff = std::chrono::milliseconds(50);
      } else {
        LogEvent(recycle ? "zygote_recycle_failed" : "zygote_restart_failed", {{"error", error}});
        std::unique_lock<std::mutex> lock(mu_);
        changed_.wait_for(lock, backoff, [this] { return stopping_.load(); });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      }
    }
  });
}

void ZygoteClient::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    ready_ = false;
    changed_.notify_all();
    for (auto& instance : instances_) ::shutdown(instance->sock.get(), SHUT_RDWR);
  }
  if (supervisor_.joinable()) supervisor_.join();  // it returns once every zygote is gone
  std::vector<std::shared_ptr<Instance>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all = instances_;
  }
  for (auto& instance : all)
    if (instance->reader.joinable()) instance->reader.join();
}

std::shared_ptr<Job> ZygoteClient::Submit(proto::Message job, const std::vector<int>& fds, std::string* why) {
  std::shared_ptr<Job> handle;
  std::shared_ptr<Instance> instance;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ready_ || !current_) {
      *why = "the sandbox zygote is restarting";
      return nullptr;
    }
    instance = current_;
    job.job_id = next_job_++;
    handle = std::make_shared<Job>(job.job_id, !instance->pid_namespace);
    jobs_[job.job_id] = Pending{handle, instance.get()};
    instance->in_flight++;
    instance->submitted++;
    if (RecycleDue()) changed_.notify_all();
  }
  std::lock_guard<std::mutex> send_lock(send_mu_);
  if (!proto::Send(instance->sock.get(), job, "", fds)) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.erase(job.job_id);
    instance->in_flight--;
    *why = std::string("the sandbox zygote is not accepting jobs: ") + strerror(errno);
    return nullptr;
  }
  return handle;
}

void ZygoteClient::ReaderLoop(Instance* instance) {
  const int sock = instance->sock.get();
  for (;;) {
    proto::Message msg;
    std::string text;
    std::vector<UniqueFd> fds;
    proto::RecvResult r = proto::Receive(sock, &msg, &text, &fds);
    if (r == proto::RecvResult::kClosed || (r == proto::RecvResult::kError && errno != EBADMSG)) break;
    if (r != proto::RecvResult::kOk) continue;
    std::shared_ptr<Job> job;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = jobs_.find(msg.job_id);
      if (it == jobs_.end() || it->second.owner != instance) continue;
      job = it->second.job;
      if (msg.kind == proto::Kind::kExited || msg.kind == proto::Kind::kRejected) {
        jobs_.erase(it);
        instance->in_flight--;
        if (instance->retiring && instance->in_flight == 0) ::shutdown(sock, SHUT_WR);
      }
    }
    switch (msg.kind) {
      case proto::Kind::kStarted:
        {
          std::lock_guard<std::mutex> lock(job->mu_);
          if (!fds.empty()) job->pidfd_ = std::move(fds[0]);
        }
        job->Update([&](Job::State& s) {
          s.started = true;
          s.pid = msg.pid;
        });
        break;
      case proto::Kind::kExited:
        job->Update([&](Job::State& s) {
          s.exited = true;
          s.wait_status = msg.wait_status;
          s.user_us = msg.user_us;
          s.system_us = msg.system_us;
          s.max_rss_kb = msg.max_rss_kb;
          s.oom_killed = msg.oom_killed != 0;
          s.peak_memory_bytes = msg.peak_memory_bytes;
        });
        break;
      case proto::Kind::kRejected:
        job->Update([&](Job::State& s) {
          s.rejected = true;
          s.reason = text;
        });
        break;
      default:
        break;
    }
  }
  // The zygote is gone: its children died with it (PR_SET_PDEATHSIG). One
  // that was killed did not remove its sandboxes' cgroups.
  int status = 0;
  if (instance->pid > 0) {
    ::waitpid(instance->pid, &status, 0);
    if (options_.cgroup_version != 0)
      jail::RemoveSandboxCgroups(instance->pid, options_.cgroup_version,
                                 {options_.cgroup_memory_base, options_.cgroup_pids_base, options_.cgroup_cpuacct_base});
  }
  std::vector<std::shared_ptr<Job>> lost;
  bool was_current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->second.owner == instance) {
        lost.push_back(it->second.job);
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
    was_current = current_.get() == instance;
    if (was_current) {
      ready_ = false;
      current_.reset();
    }
    instance->finished = true;
    changed_.notify_all();
  }
  if (was_current && !stopping_) LogEvent("zygote_exited", {{"status", status}});
  for (auto& job : lost)
    job->Update([](Job::State& s) {
      s.lost = true;
      s.reason = "the sandbox zygote exited";
    });
}

embed::ReadyReport ZygoteClient::Report() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_report_;
}

}  // namespace wj
