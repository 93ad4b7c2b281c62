#include "embed/zygote.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "embed/interpreter.h"
#include "embed/protocol.h"
#include "jail/environment.h"
#include "jail/init.h"
#include "jail/mounts.h"
#include "jail/probe.h"
#include "jail/seccomp.h"
#include "jail/specialize.h"

namespace wj::embed {

namespace {

void Log(const std::string& line) {
  std::string text = "warmjail zygote: " + line + "\n";
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
  for (int i = 1; i < times.count; ++i) {
    char item[96];
    std::snprintf(item, sizeof item, "%s[\"%s\",%.3f]", i > 1 ? "," : "", times.names[i],
                  (times.at_ns[i] - times.at_ns[i - 1]) / 1e6);
    stages += item;
  }
  stages += "],";
  return stages + doc.substr(1);
}

std::string PickStagingDir() {
  for (const char* dir : {"/tmp", "/mnt", "/run", "/var/tmp"})
    if (::access(dir, F_OK) == 0) return dir;
  return "/tmp";
}

class Zygote {
 public:
  explicit Zygote(const ZygoteOptions& options) : options_(options) {}

  int Main() {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::prctl(PR_SET_NAME, "warmjail-zygote");
    devnull_.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));

    // SIGCHLD arrives as a readable descriptor, so the loop stays a single
    // poll() in a single thread.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    sigchld_.reset(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));

    nlohmann::json ready;
    try {
      BuildPolicy();
      ready["layers"] = Probe();
      if (options_.mode == Mode::kZygote) {
        interpreter_ = std::make_unique<Interpreter>();
        interpreter_->WarmUp();
        policy_.binds = jail::ResolveBindMounts(interpreter_->SysPathDirs());
        ready["versions"] = interpreter_->Versions();
      } else {
        // Cold mode: the child starts its own interpreter, so only the
        // standard locations are bound.
        policy_.binds = jail::ResolveBindMounts({"/usr/lib/python3.11", "/usr/lib/python3/dist-packages"});
        ready["versions"] = "python 3.11 (started per request)";
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
    ready["mode"] = options_.mode == Mode::kZygote ? "zygote" : "cold";
    ready["binds"] = policy_.binds.size();
    proto::Message msg{proto::Kind::kReady};
    msg.footprint_bytes = footprint_;
    if (!proto::Send(options_.control_fd, msg, ready.dump())) return 1;
    return Loop();
  }

 private:
  void BuildPolicy() {
    policy_.layers = options_.layers;
    policy_.sandbox_uid = options_.sandbox_uid;
    policy_.sandbox_gid = options_.sandbox_gid;
    policy_.outer_uid = ::geteuid();
    policy_.outer_gid = ::getegid();
    policy_.outer_is_root = policy_.outer_uid == 0;
    policy_.staging_dir = PickStagingDir();
    policy_.environment = jail::SandboxEnvironment();
    policy_.binds = jail::ResolveBindMounts({"/usr/lib/python3.11", "/usr/lib/python3/dist-packages"});
    if (policy_.layers.seccomp) {
      jail::Status s = jail::CompileSeccompFilter(&policy_.seccomp_filter);
      if (!s.ok()) throw std::runtime_error(s.message());
    }
  }

  nlohmann::json Probe() {
    nlohmann::json layers = nlohmann::json::array();
    for (const jail::LayerReport& report : jail::ProbeLayers(policy_)) {
      layers.push_back({{"name", report.name}, {"active", report.active}, {"detail", report.detail}});
      if (!report.active) {
        if (report.name == "namespaces") policy_.layers.namespaces = false;
        if (report.name == "filesystem") policy_.layers.filesystem = false;
        if (report.name == "privileges") policy_.layers.drop_privileges = false;
        if (report.name == "seccomp") policy_.layers.seccomp = false;
      }
    }
    return layers;
  }

  int Loop() {
    for (;;) {
      struct pollfd fds[2] = {{options_.control_fd, POLLIN, 0}, {sigchld_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        Log(std::string("poll: ") + strerror(errno));
        return 1;
      }
      if (fds[1].revents & POLLIN) ReapChildren();
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        proto::Message msg;
        std::string text;
        std::vector<UniqueFd> received;
        proto::RecvResult r = proto::Receive(options_.control_fd, &msg, &text, &received);
        if (r == proto::RecvResult::kClosed) return 0;  // the server is gone; children die with us
        if (r == proto::RecvResult::kError) {
          Log(std::string("bad message from the server: ") + strerror(errno));
          continue;
        }
        if (msg.kind == proto::Kind::kJob) StartJob(msg, std::move(received));
      }
    }
  }

  void Reject(uint64_t job_id, const std::string& why) {
    proto::Message out{proto::Kind::kRejected};
    out.job_id = job_id;
    proto::Send(options_.control_fd, out, why.substr(0, proto::kMaxText));
  }

  void StartJob(const proto::Message& job, std::vector<UniqueFd> fds) {
    if (fds.size() != proto::kJobFixedFds + job.cgroup_fds) {
      Reject(job.job_id, "job arrived with " + std::to_string(fds.size()) + " descriptors");
      return;
    }
    int release[2];
    if (::pipe2(release, O_CLOEXEC) != 0) {
      Reject(job.job_id, std::string("pipe2: ") + strerror(errno));
      return;
    }
    UniqueFd release_r(release[0]), release_w(release[1]);
    int status[2];
    if (::pipe2(status, O_CLOEXEC | O_NONBLOCK) != 0) {
      Reject(job.job_id, std::string("pipe2: ") + strerror(errno));
      return;
    }
    UniqueFd status_r(status[0]), status_w(status[1]);
    std::vector<int> cgroup_fds;
    for (size_t i = proto::kJobFixedFds; i < fds.size(); ++i) cgroup_fds.push_back(fds[i].get());

    jail::ChildLimits limits;
    limits.cpu_seconds = static_cast<uint32_t>(job.cpu_seconds);
    limits.tmp_bytes = job.tmp_bytes;
    limits.file_size_bytes = job.tmp_bytes;
    limits.max_procs = job.max_procs;
    // Without a memory cgroup, address space is the fallback limit, counted
    // above what the zygote itself already maps.
    limits.address_space_bytes = cgroup_fds.empty() ? footprint_ + job.memory_bytes : 0;
    jail::ChildFds child_fds{devnull_.get(), fds[1].get(), fds[2].get(), fds[3].get(), status_w.get()};

    jail::StageTimes times;
    times.Mark("received");
    ::fflush(nullptr);
    if (interpreter_) {
      interpreter_->FlushStdio();
      Interpreter::BeforeFork();
    }
    times.Mark("beforefork");
    pid_t pid = jail::CloneChild(policy_);
    if (pid == 0) RunChild(job, fds[0].get(), limits, child_fds, release_r.get(), times);
    int clone_errno = errno;
    if (interpreter_) Interpreter::AfterForkParent();
    if (pid < 0) {
      Reject(job.job_id, std::string("clone: ") + strerror(clone_errno));
      return;
    }
    jail::Status parent = jail::InitChildFromParent(pid, policy_, cgroup_fds);
    if (parent.ok()) {
      (void)!::write(release_w.get(), "G", 1);
    } else {
      ::kill(pid, SIGKILL);
      WriteAll(fds[3].get(), FailureDoc("setup_failed", parent.message()));
    }
    jobs_[pid] = Running{job.job_id, std::move(status_r)};
    proto::Message started{proto::Kind::kStarted};
    started.job_id = job.job_id;
    started.pid = pid;
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    std::vector<int> out_fds;
    if (pidfd) out_fds.push_back(pidfd.get());
    proto::Send(options_.control_fd, started, "", out_fds);
  }

  [[noreturn]] void RunChild(const proto::Message& job, int payload_fd, const jail::ChildLimits& limits,
                             const jail::ChildFds& fds, int release_fd, jail::StageTimes times) {
    times.Mark("forked");
    if (interpreter_) Interpreter::AfterForkChild();
    times.Mark("afterfork");
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // The payload is read before the jail closes its descriptor.
    std::string payload = ReadAll(payload_fd), script, input;
    int result_fd = fds.result_fd;
    jail::Status s = jail::Specialize(policy_, limits, fds, release_fd, &result_fd, &times);
    if (!s.ok()) {
      WriteAll(result_fd, FailureDoc("setup_failed", s.message()));
      ::_exit(kExitSetupFailed);
    }
    if (!proto::DecodePayload(payload, &script, &input)) {
      WriteAll(jail::kResultFd, FailureDoc("setup_failed", "malformed job payload"));
      ::_exit(kExitSetupFailed);
    }
    payload.clear();
    payload.shrink_to_fit();
    // This process stays behind as the PID namespace's init; the script runs
    // in the worker it forks (see jail/init.h for why).
    if (interpreter_) Interpreter::BeforeFork();
    pid_t worker = ::fork();
    if (worker != 0) {
      if (interpreter_) Interpreter::AfterForkParent();
      if (worker < 0) {
        WriteAll(jail::kResultFd, FailureDoc("setup_failed", std::string("fork(worker): ") + strerror(errno)));
        ::_exit(kExitSetupFailed);
      }
      jail::RunInit(worker);
    }
    if (interpreter_) Interpreter::AfterForkChild();
    jail::LeaveInitDescriptors();
    times.Mark("worker");
    std::string doc;
    try {
      if (!interpreter_) interpreter_ = std::make_unique<Interpreter>();  // cold mode
      interpreter_->PrepareChild(policy_.environment);
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
    WriteAll(jail::kResultFd, WithStages(doc, times));
    // No interpreter shutdown: atexit handlers and finalizers are the
    // script's, and the process is thrown away anyway.
    ::_exit(0);
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
      auto it = jobs_.find(pid);
      if (it == jobs_.end()) continue;
      // The worker's status as init reported it; init's own when init did not
      // get to report (killed on timeout, or it never reached the fork).
      int worker_status;
      if (::read(it->second.status.get(), &worker_status, sizeof worker_status) == sizeof worker_status)
        status = worker_status;
      proto::Message exited{proto::Kind::kExited};
      exited.job_id = it->second.job_id;
      exited.pid = pid;
      exited.wait_status = status;
      exited.user_us = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec;
      exited.system_us = ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
      exited.max_rss_kb = ru.ru_maxrss;
      jobs_.erase(it);
      proto::Send(options_.control_fd, exited);
    }
  }

  ZygoteOptions options_;
  jail::JailPolicy policy_;
  std::unique_ptr<Interpreter> interpreter_;
  UniqueFd devnull_;
  UniqueFd sigchld_;
  uint64_t footprint_ = 0;
  struct Running {
    uint64_t job_id;
    UniqueFd status;  // read end of the init's status pipe
  };
  std::map<pid_t, Running> jobs_;
};

}  // namespace

int ZygoteMain(const ZygoteOptions& options) { return Zygote(options).Main(); }

}  // namespace wj::embed
