#include "src/zygote_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

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

ZygoteClient::ZygoteClient(std::vector<std::string> argv) : argv_(std::move(argv)) {}

ZygoteClient::~ZygoteClient() { Stop(); }

bool ZygoteClient::Launch(std::string* error) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    *error = std::string("socketpair: ") + strerror(errno);
    return false;
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  // Everything the child needs is prepared before fork: between fork and
  // exec in a multi-threaded process only async-signal-safe calls are made.
  std::vector<std::string> args = argv_;
  args.insert(args.begin() + 1, {"__zygote", "--control-fd", "3"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = jail::SandboxEnvironment();
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);

  pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (pid == 0) {
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (theirs.get() == 3) ::fcntl(3, F_SETFD, 0);
    else if (::dup2(theirs.get(), 3) < 0) ::_exit(127);
    ::syscall(SYS_close_range, 4u, ~0u, 0u);
    ::execve("/proc/self/exe", argv.data(), envp.data());
    ::_exit(127);
  }
  theirs.reset();

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
  if (r != proto::RecvResult::kOk || msg.kind != proto::Kind::kReady) {
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    *error = rc == 0 ? "the zygote did not become ready within 120 s" : "the zygote exited during start-up";
    return false;
  }
  if (reader_.joinable()) reader_.join();  // the previous zygote's, already finished
  std::lock_guard<std::mutex> lock(mu_);
  report_ = nlohmann::json::parse(text, nullptr, false);
  footprint_ = msg.footprint_bytes;
  pid_namespace_ = false;
  if (report_.is_object() && report_.contains("layers"))
    for (const auto& layer : report_["layers"])
      if (layer.value("name", "") == "namespaces") pid_namespace_ = layer.value("active", false);
  zygote_pid_ = pid;
  sock_ = std::move(ours);
  reader_ = std::thread(&ZygoteClient::ReaderLoop, this, sock_.get());
  ready_ = true;
  changed_.notify_all();
  return true;
}

bool ZygoteClient::Start(std::string* error) { return Launch(error); }

void ZygoteClient::StartSupervisor() {
  supervisor_ = std::thread([this] {
    auto backoff = std::chrono::milliseconds(50);
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        changed_.wait(lock, [this] { return stopping_ || !ready_; });
        if (stopping_) return;
      }
      std::string error;
      if (Launch(&error)) {
        restarts_++;
        backoff = std::chrono::milliseconds(50);
        LogEvent("zygote_restarted", {{"restarts", restarts_.load()}});
      } else {
        LogEvent("zygote_restart_failed", {{"error", error}});
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
    changed_.notify_all();
    if (sock_) ::shutdown(sock_.get(), SHUT_RDWR);
  }
  if (supervisor_.joinable()) supervisor_.join();
  if (reader_.joinable()) reader_.join();
}

std::shared_ptr<Job> ZygoteClient::Submit(proto::Message job, const std::vector<int>& fds, std::string* why) {
  std::shared_ptr<Job> handle;
  int sock;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ready_ || !sock_) {
      *why = "the sandbox zygote is restarting";
      return nullptr;
    }
    job.job_id = next_job_++;
    handle = std::make_shared<Job>(job.job_id, !pid_namespace_);
    jobs_[job.job_id] = handle;
    sock = sock_.get();
  }
  std::lock_guard<std::mutex> send_lock(send_mu_);
  if (!proto::Send(sock, job, "", fds)) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.erase(job.job_id);
    *why = std::string("the sandbox zygote is not accepting jobs: ") + strerror(errno);
    return nullptr;
  }
  return handle;
}

void ZygoteClient::ReaderLoop(int sock) {
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
      if (it == jobs_.end()) continue;
      job = it->second;
      if (msg.kind == proto::Kind::kExited || msg.kind == proto::Kind::kRejected) jobs_.erase(it);
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
  // The zygote is gone: its children died with it (PR_SET_PDEATHSIG).
  pid_t pid;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = false;
    pid = zygote_pid_;
    zygote_pid_ = -1;
    sock_.reset();
  }
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  if (!stopping_) LogEvent("zygote_exited", {{"status", status}});
  LoseAll("the sandbox zygote exited");
  std::lock_guard<std::mutex> lock(mu_);
  changed_.notify_all();
}

void ZygoteClient::LoseAll(const std::string& why) {
  std::map<uint64_t, std::shared_ptr<Job>> lost;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lost.swap(jobs_);
  }
  for (auto& [id, job] : lost)
    job->Update([&](Job::State& s) {
      s.lost = true;
      s.reason = why;
    });
}

nlohmann::json ZygoteClient::Report() const {
  std::lock_guard<std::mutex> lock(mu_);
  return report_;
}

uint64_t ZygoteClient::FootprintBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return footprint_;
}

bool ZygoteClient::ChildrenHavePidNamespace() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pid_namespace_;
}

}  // namespace wj
