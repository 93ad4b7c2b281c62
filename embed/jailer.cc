#include "embed/jailer.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "embed/protocol.h"
#include "jail/mounts.h"
#include "jail/nest.h"

namespace wj::embed {

namespace {

constexpr int kJailerSock = 3;

std::vector<std::string> SplitDirs(const std::string& text) {
  std::vector<std::string> dirs;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) dirs.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return dirs;
}

[[noreturn]] void RunJailer(jail::JailPolicy policy, uint64_t tmp_bytes) {
  ::prctl(PR_SET_NAME, "warmjail-jailer");
  // SIGCHLD (still blocked, as in the zygote) arrives as a descriptor: an
  // init that is gone is reaped at once, so that its CPU time (and its
  // orphans') adds to this process's, in the server's process tree, and no
  // zombie lingers. The zygote learns of an init's end from its pidfd.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  UniqueFd sigchld(::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
  const jail::JailPolicy base = policy;
  for (;;) {
    struct pollfd wait[2] = {{kJailerSock, POLLIN, 0}, {sigchld.get(), POLLIN, 0}};
    if (::poll(wait, sigchld ? 2 : 1, sigchld ? -1 : 100) < 0 && errno != EINTR) ::_exit(1);
    struct signalfd_siginfo info;
    while (sigchld && ::read(sigchld.get(), &info, sizeof info) > 0) {
    }
    while (::waitpid(-1, nullptr, WNOHANG | __WALL) > 0) {
    }
    if (!(wait[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    proto::Message msg;
    std::string text;
    std::vector<UniqueFd> fds;
    proto::RecvResult r = proto::Receive(kJailerSock, &msg, &text, &fds);
    if (r == proto::RecvResult::kClosed) ::_exit(0);
    if (r != proto::RecvResult::kOk) continue;
    if (msg.kind == proto::Kind::kJailerDirs) {
      policy.binds = jail::ResolveBindMounts(SplitDirs(text));
      continue;
    }
    if (msg.kind != proto::Kind::kNestWanted) continue;
    if (msg.host_uid != 0) {
      policy.outer_uid = msg.host_uid;
      policy.outer_gid = msg.host_uid;
    } else {
      policy.outer_uid = base.outer_uid;
      policy.outer_gid = base.outer_gid;
    }
    std::vector<int> procs;
    for (const UniqueFd& fd : fds) procs.push_back(fd.get());
    jail::Nest nest;
    Status s = jail::MakeNest(policy, tmp_bytes, procs, &nest);
    proto::Message out{s.ok() ? proto::Kind::kNestMade : proto::Kind::kNestFailed};
    out.job_id = msg.job_id;
    out.pid = nest.init;
    if (s.ok()) {
      // The jailer keeps nothing: the nest is the zygote's from here on.
      proto::Send(kJailerSock, out, "", nest.Fds());
    } else {
      proto::Send(kJailerSock, out, s.message().substr(0, proto::kMaxText));
    }
  }
}

}  // namespace

bool StartJailer(const jail::JailPolicy& policy, uint64_t tmp_bytes, pid_t* pid, UniqueFd* sock) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return false;
  UniqueFd ours(pair[0]), theirs(pair[1]);
  pid_t child = ::fork();
  if (child < 0) return false;
  if (child == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ::_exit(1);
    if (::dup2(theirs.get(), kJailerSock) < 0) ::_exit(1);
    // Nothing of the zygote's: not its control socket, not its signalfd.
    ::syscall(SYS_close_range, kJailerSock + 1u, ~0u, 0u);
    RunJailer(policy, tmp_bytes);
  }
  *pid = child;
  *sock = std::move(ours);
  return true;
}

}  // namespace wj::embed
