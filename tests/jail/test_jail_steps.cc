// Component tests of the jail, in the manner of sandbox2's testcases: each
// step of the recipe in jail/specialize.cc is taken alone in a child process
// (after only the steps it cannot do without), the child observes the step's
// effect from inside and reports what it saw on a pipe, and the test process
// asserts it. The hostile suite (tests/hostile) attacks the whole recipe
// through the server; these cases pin each property to the step that gives
// it. Where a fact holds before the step too, the child reports it both
// before and after, so each assertion is seen to depend on the step.
//
// Runs as root (ctest jail_steps) and as uid 65534 without capabilities
// (jail_steps_unprivileged), where the cases that need root say so and pass.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// The children these tests fork die of signals on purpose; doctest's own
// handlers would report each such death as a crash of the test.
#define DOCTEST_CONFIG_NO_POSIX_SIGNALS
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <poll.h>

#include <filesystem>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "jail/capabilities.h"
#include "jail/cgroups.h"
#include "jail/default_policy.h"
#include "jail/defaults.h"
#include "jail/environment.h"
#include "jail/fds.h"
#include "jail/mounts.h"
#include "jail/namespaces.h"
#include "jail/nest.h"
#include "jail/policy.h"
#include "jail/rlimits.h"
#include "jail/seccomp.h"
#include "jail/specialize.h"

extern char** environ;

using namespace wj::jail;
using wj::UniqueFd;
using wj::Status;
using wj::StageTimes;

namespace {

// What a child observed, "key" -> "value".
using Facts = std::map<std::string, std::string>;

// The child's side of the report pipe: one "key=value" line per fact.
class Reporter {
 public:
  explicit Reporter(int fd) : fd_(fd) {}
  void set_fd(int fd) { fd_ = fd; }
  void Say(const std::string& key, const std::string& value) {
    std::string line = key + "=" + value;
    std::replace(line.begin(), line.end(), '\n', '|');
    line += '\n';
    (void)!::write(fd_, line.data(), line.size());
  }
  void Say(const std::string& key, long long value) { Say(key, std::to_string(value)); }
  // A step that fails ends the child: what follows would test nothing.
  void Must(const Status& s) {
    if (s.ok()) return;
    Say("error", s.message());
    ::_exit(1);
  }

 private:
  int fd_;
};

// "EPERM" for the errno of a call that failed, "ok" for one that did not.
std::string Outcome(long rc) { return rc >= 0 ? "ok" : strerrorname_np(errno); }

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Joined(std::vector<std::string> items, bool sort = true) {
  if (sort) std::sort(items.begin(), items.end());
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

std::vector<std::string> DirEntries(const char* path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path);
  if (dir == nullptr) return {std::string("<") + strerrorname_np(errno) + ">"};
  while (struct dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  return names;
}

// The descriptors open in this process, from fcntl rather than /proc (which
// a step may have replaced).
std::string OpenFds() {
  std::vector<std::string> open;
  for (int fd = 0; fd < 1024; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0) open.push_back(std::to_string(fd));
  return Joined(open, false);
}

std::string Namespace(const char* name) {
  char link[64] = {};
  std::string path = std::string("/proc/self/ns/") + name;
  if (::readlink(path.c_str(), link, sizeof link - 1) < 0) return "?";
  return link;
}
constexpr const char* kNamespaces[] = {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"};

// The capability sets as the kernel reports them (capget, not libcap, so the
// check does not share code with DropPrivileges' own check).
struct Caps {
  uint64_t effective = 0, permitted = 0, inheritable = 0, bounding = 0, ambient = 0;
};
Caps ReadCaps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  Caps caps;
  if (::syscall(SYS_capget, &header, data) != 0) return Caps{~0ull, ~0ull, ~0ull, ~0ull, ~0ull};
  caps.effective = data[0].effective | (uint64_t{data[1].effective} << 32);
  caps.permitted = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  caps.inheritable = data[0].inheritable | (uint64_t{data[1].inheritable} << 32);
  int last = std::stoi(ReadText("/proc/sys/kernel/cap_last_cap"));
  for (int cap = 0; cap <= last; ++cap) {
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) caps.bounding |= 1ull << cap;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1) caps.ambient |= 1ull << cap;
  }
  return caps;
}
void SayCaps(Reporter& r, const std::string& prefix) {
  Caps caps = ReadCaps();
  r.Say(prefix + "effective", static_cast<long long>(caps.effective));
  r.Say(prefix + "permitted", static_cast<long long>(caps.permitted));
  r.Say(prefix + "inheritable", static_cast<long long>(caps.inheritable));
  r.Say(prefix + "bounding", static_cast<long long>(caps.bounding));
  r.Say(prefix + "ambient", static_cast<long long>(caps.ambient));
  r.Say(prefix + "no_new_privs", ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  r.Say(prefix + "dumpable", ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
}

// No child of these tests outlives a minute, whatever a step did not do.
constexpr unsigned kChildSeconds = 60;

// Runs `body` in a process it forks and returns the wait status of that
// grandchild: for effects that end a process (a signal, the OOM killer).
int StatusOf(const std::function<void()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(kChildSeconds);
    body();
    ::_exit(0);
  }
  int status = -1;
  if (pid > 0) ::waitpid(pid, &status, 0);
  return status;
}
std::string Describe(int status) {
  if (status == -1) return "fork failed";
  if (WIFSIGNALED(status)) return std::string("signal ") + sigabbrev_np(WTERMSIG(status));
  return "exit " + std::to_string(WEXITSTATUS(status));
}

struct Result {
  Facts facts;
  int status = -1;
};

// Reads the child's report until EOF and reaps it.
Result Collect(UniqueFd report, pid_t pid) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(report.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) text.append(buf, n);
  Result result;
  while (::waitpid(pid, &result.status, 0) < 0 && errno == EINTR) {
  }
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) result.facts[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return result;
}

// The child's report was complete: no step failed and it ended normally.
void RequireClean(const Result& result) {
  auto error = result.facts.find("error");
  INFO("the child's error: " << (error == result.facts.end() ? "" : error->second));
  REQUIRE(error == result.facts.end());
  // A child that died early still has its facts checked: those missing fail.
  CHECK(Describe(result.status) == "exit 0");
}

using Body = std::function<void(Reporter&)>;

// A child of fork(), with the report pipe's write end as `*report_fd`.
Result RunForked(const std::function<void(Reporter&, int report_fd)>& body) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd read_end(p[0]), write_end(p[1]);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::alarm(kChildSeconds);
    read_end.reset();
    Reporter r(write_end.get());
    body(r, write_end.get());
    ::_exit(0);
  }
  write_end.reset();
  return Collect(std::move(read_end), pid);
}

// A child as the zygote makes one: born by CloneChild in the policy's
// namespaces, held on its release pipe (WaitForRelease) until the parent has
// written its uid/gid maps and put it into `cgroup_procs`
// (InitChildFromParent), as embed/zygote.cc does.
Result RunJailed(const JailPolicy& policy, const Body& body, const std::vector<int>& cgroup_procs = {}) {
  int p[2], release[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd read_end(p[0]), write_end(p[1]);
  REQUIRE(::pipe2(release, O_CLOEXEC) == 0);
  UniqueFd release_r(release[0]), release_w(release[1]);
  pid_t pid = CloneChild(policy);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::alarm(kChildSeconds);
    read_end.reset();
    release_w.reset();
    Reporter r(write_end.get());
    r.Must(DieWithParent());
    r.Must(WaitForRelease(release_r.get()));
    body(r);
    ::_exit(0);
  }
  write_end.reset();
  release_r.reset();
  Status parent = InitChildFromParent(pid, policy, cgroup_procs);
  if (parent.ok()) (void)!::write(release_w.get(), "G", 1);
  release_w.reset();
  Result result = Collect(std::move(read_end), pid);
  INFO("InitChildFromParent: " << parent.message());
  REQUIRE(parent.ok());
  return result;
}

// The policy the zygote builds (jail::DefaultPolicy), with every layer.
JailPolicy ZygotePolicy() {
  JailPolicy policy;
  REQUIRE(DefaultPolicy(Layers{}, defaults::kSandboxUid, &policy).ok());
  return policy;
}

// The report's form of a multi-line text.
std::string Lines(std::string text) {
  std::replace(text.begin(), text.end(), '\n', '|');
  return text;
}

// /proc/self/cgroup (as text or in the report's form) names the root of
// every hierarchy.
bool AllCgroupsRoot(std::string text) {
  std::replace(text.begin(), text.end(), '|', '\n');
  std::istringstream lines(text);
  int seen = 0;
  for (std::string line; std::getline(lines, line); ++seen)
    if (line.size() < 2 || line.compare(line.size() - 2, 2, ":/") != 0) return false;
  return seen > 0;
}

bool IsRoot() { return ::geteuid() == 0; }

// The steps before the mounts in specialize.cc: the child's namespaces
// finished from inside and the sandbox ids taken on.
void EnterNamespaces(Reporter& r, const JailPolicy& policy) {
  r.Must(InitNs(policy));
  r.Must(SwitchToSandboxIds(policy));
}

}  // namespace

TEST_CASE("namespaces: CloneChild, InitUserNsFromParent and InitNs") {
  JailPolicy policy = ZygotePolicy();
  policy.hostname = "warmjail-steps";
  // A loopback listener of the host's network namespace, for the child to
  // fail to reach.
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener.get(), 1) == 0);
  REQUIRE(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  Facts host;
  for (const char* ns : kNamespaces) host[ns] = Namespace(ns);
  const std::string host_cgroup = ReadText("/proc/self/cgroup");

  Result result = RunJailed(policy, [&](Reporter& r) {
    r.Say("cgroup_before", ReadText("/proc/self/cgroup"));
    EnterNamespaces(r, policy);
    for (const char* ns : kNamespaces) r.Say(std::string("ns_") + ns, Namespace(ns));
    r.Say("pid", ::getpid());
    // The worker the init forks: pid 2, its parent the init.
    int worker = StatusOf([] { ::_exit(::getpid() * 10 + ::getppid()); });
    r.Say("worker_pid_ppid", WIFEXITED(worker) ? WEXITSTATUS(worker) : -1);
    struct utsname uts;
    ::uname(&uts);
    r.Say("hostname", uts.nodename);
    uid_t ruid, euid, suid;
    ::getresuid(&ruid, &euid, &suid);
    r.Say("uids", std::to_string(ruid) + "," + std::to_string(euid) + "," + std::to_string(suid));
    r.Say("uid_map", ReadText("/proc/self/uid_map"));
    r.Say("gid_map", ReadText("/proc/self/gid_map"));
    std::vector<std::string> interfaces;
    if (struct if_nameindex* names = ::if_nameindex()) {
      for (struct if_nameindex* i = names; i->if_index != 0; ++i) interfaces.push_back(i->if_name);
      ::if_freenameindex(names);
    }
    r.Say("interfaces", Joined(interfaces));
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    r.Say("connect_host_loopback", Outcome(::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr)));
    r.Say("cgroup", ReadText("/proc/self/cgroup"));
  });
  RequireClean(result);
  Facts& f = result.facts;
  for (const char* ns : kNamespaces) {
    CAPTURE(std::string(ns));
    CHECK(f[std::string("ns_") + ns] != host[ns]);
  }
  CHECK(f["pid"] == "1");
  CHECK(f["worker_pid_ppid"] == "21");  // pid 2, parent 1
  CHECK(f["hostname"] == "warmjail-steps");
  const std::string id = std::to_string(policy.sandbox_uid);
  CHECK(f["uids"] == id + "," + id + "," + id);
  // Only the sandbox ids are mapped, one each, to unprivileged ids outside
  // (never 0).
  auto CheckMap = [&](const std::string& name, unsigned sandbox_id, unsigned outer_id) {
    std::string text = f[name];
    std::replace(text.begin(), text.end(), '|', ' ');
    std::istringstream map(text);
    std::string inside, outside, count, more;
    map >> inside >> outside >> count;
    CAPTURE(name);
    CHECK(inside == std::to_string(sandbox_id));
    CHECK(outside == std::to_string(outer_id));
    CHECK(outside != "0");
    CHECK(count == "1");
    CHECK(!(map >> more));
  };
  CheckMap("uid_map", policy.sandbox_uid, policy.outer_uid);
  CheckMap("gid_map", policy.sandbox_gid, policy.outer_gid);
  CHECK(f["interfaces"] == "lo");
  // lo is down in a new network namespace; the host's is up.
  CHECK(f["connect_host_loopback"] == "ENETUNREACH");
  // The cgroup namespace: every hierarchy's path is its root. Before
  // InitNs the child saw the host's paths (on this host at least one is not
  // the root, else the check would not tell).
  CHECK(f["cgroup_before"] == Lines(host_cgroup));
  WARN_MESSAGE(!AllCgroupsRoot(host_cgroup), "this host runs the test in root cgroups: the check below cannot fail here");
  CHECK(AllCgroupsRoot(f["cgroup"]));
}

TEST_CASE("filesystem: BuildRoot") {
  JailPolicy policy = ZygotePolicy();
  constexpr uint64_t kTmpBytes = 4ull << 20;
  char self[4096] = {};
  REQUIRE(::readlink("/proc/self/exe", self, sizeof self - 1) > 0);
  const std::string test_binary = self;
  const std::string host_boot_id = ReadText("/proc/sys/kernel/random/boot_id");
  const std::string host_cmdline = ReadText("/proc/cmdline");

  Result result = RunJailed(policy, [&](Reporter& r) {
    EnterNamespaces(r, policy);
    r.Say("before_root_create", Outcome(::open("/warmjail-step-test", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)));
    r.Say("before_shadow", Outcome(::access("/etc/shadow", F_OK)));
    r.Must(BuildRoot(policy, kTmpBytes));
    char cwd[256] = {};
    r.Say("cwd", ::getcwd(cwd, sizeof cwd) ? cwd : "?");
    r.Say("root_create", Outcome(::open("/new-file", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)));
    r.Say("root_mkdir", Outcome(::mkdir("/new-dir", 0700)));
    r.Say("bind_create", Outcome(::open("/usr/lib/python3.11/new-file", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)));
    r.Say("etc_create", Outcome(::open("/etc/new-file", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)));
    r.Say("dev_create", Outcome(::open("/dev/new-file", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)));
    // A bound library is there, readable, and not writable.
    r.Say("python_lib", Outcome(::access("/usr/lib/python3.11/os.py", R_OK)));
    for (const std::string& path : {std::string("/etc/shadow"), std::string("/root"), std::string("/home"),
                                    std::string("/var"), std::string("/sys"), test_binary})
      r.Say("stat " + path, Outcome(::access(path.c_str(), F_OK)));
    r.Say("passwd", ReadText("/etc/passwd"));
    r.Say("dev", Joined(DirEntries("/dev")));
    // /tmp: the sandbox's own tmpfs, writable up to its size and no further.
    struct statfs sf;
    r.Say("tmp_statfs", Outcome(::statfs("/tmp", &sf)));
    r.Say("tmp_is_tmpfs", sf.f_type == TMPFS_MAGIC);
    r.Say("tmp_bytes", static_cast<long long>(sf.f_blocks * sf.f_bsize));
    r.Say("tmp_empty", DirEntries("/tmp").empty());
    UniqueFd file(::open("/tmp/fill", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    r.Say("tmp_create", file ? "ok" : strerrorname_np(errno));
    std::vector<char> chunk(64 << 10, 'x');
    long long written = 0;
    ssize_t n = 0;
    // Bounded, in case /tmp were not the sandbox's.
    while (written < 2 * static_cast<long long>(kTmpBytes) && (n = ::write(file.get(), chunk.data(), chunk.size())) > 0)
      written += n;
    const char* fill_errno = n < 0 ? strerrorname_np(errno) : "none";
    ::unlink("/tmp/fill");
    r.Say("tmp_fill_errno", fill_errno);
    r.Say("tmp_written", written);
    // /proc: the PID namespace's own, holding this process alone, with the
    // host-wide entries masked.
    std::vector<std::string> pids;
    for (const std::string& name : DirEntries("/proc"))
      if (std::all_of(name.begin(), name.end(), ::isdigit)) pids.push_back(name);
    r.Say("proc_pids", Joined(pids));
    r.Say("boot_id", ReadText("/proc/sys/kernel/random/boot_id"));
    r.Say("cmdline", ReadText("/proc/cmdline"));
  });
  RequireClean(result);
  Facts& f = result.facts;
  // The host's root before the step: not writable for uid 65534, but not
  // read-only either, and /etc/shadow is there.
  CHECK(f["before_root_create"] == "EACCES");
  CHECK(f["before_shadow"] == "ok");
  CHECK(f["cwd"] == "/tmp");
  CHECK(f["root_create"] == "EROFS");
  CHECK(f["root_mkdir"] == "EROFS");
  CHECK(f["bind_create"] == "EROFS");
  CHECK(f["etc_create"] == "EROFS");
  CHECK(f["dev_create"] == "EROFS");
  CHECK(f["python_lib"] == "ok");
  for (const std::string& path : {std::string("/etc/shadow"), std::string("/root"), std::string("/home"),
                                  std::string("/var"), std::string("/sys"), test_binary}) {
    CAPTURE(path);
    CHECK(f["stat " + path] == "ENOENT");
  }
  const std::string id = std::to_string(policy.sandbox_uid);
  CHECK(f["passwd"] == "sandbox:x:" + id + ":" + id + ":sandbox:/tmp:/nonexistent|");
  CHECK(f["dev"] == "fd,full,null,random,stderr,stdin,stdout,urandom,zero");
  CHECK(f["tmp_statfs"] == "ok");
  CHECK(f["tmp_is_tmpfs"] == "1");
  CHECK(f["tmp_bytes"] == std::to_string(kTmpBytes));
  CHECK(f["tmp_empty"] == "1");
  CHECK(f["tmp_create"] == "ok");
  CHECK(f["tmp_fill_errno"] == "ENOSPC");
  CHECK(std::stoll(f["tmp_written"]) <= static_cast<long long>(kTmpBytes));
  CHECK(std::stoll(f["tmp_written"]) >= static_cast<long long>(kTmpBytes) / 2);
  CHECK(f["proc_pids"] == "1");
  CHECK(!host_boot_id.empty());
  CHECK(f["boot_id"] == "");
  CHECK(!host_cmdline.empty());
  CHECK(f["cmdline"] == "");
}

TEST_CASE("resource limits: ApplyRlimits") {
  ChildLimits limits;
  limits.address_space_bytes = 256ull << 20;
  limits.cpu_seconds = 1;
  limits.file_size_bytes = 1ull << 20;
  // RLIMIT_NPROC counts every process of the uid on the host (the
  // unprivileged run shares 65534 with other tests): a value only to read back.
  limits.max_procs = 1000;
  limits.max_open_files = 16;

  Result result = RunForked([&](Reporter& r, int) {
    r.Must(ApplyRlimits(limits));
    const std::pair<int, const char*> resources[] = {
        {RLIMIT_AS, "as"},     {RLIMIT_CPU, "cpu"},         {RLIMIT_FSIZE, "fsize"},     {RLIMIT_NOFILE, "nofile"},
        {RLIMIT_NPROC, "nproc"}, {RLIMIT_CORE, "core"}, {RLIMIT_MEMLOCK, "memlock"}, {RLIMIT_MSGQUEUE, "msgqueue"}};
    for (const auto& [resource, name] : resources) {
      struct rlimit rl;
      ::getrlimit(resource, &rl);
      r.Say(name, std::to_string(rl.rlim_cur) + "/" + std::to_string(rl.rlim_max));
    }
    // The hard limits cannot be raised again (root could; the sandbox is not).
    // The effects: each limit is hit where it is set.
    ::signal(SIGXFSZ, SIG_IGN);
    UniqueFd memfd(::memfd_create("fsize", MFD_CLOEXEC));
    std::vector<char> mib(limits.file_size_bytes, 'x');
    r.Say("write_to_limit", Outcome(::write(memfd.get(), mib.data(), mib.size())));
    r.Say("write_past_limit", Outcome(::write(memfd.get(), "x", 1)));
    int highest = -1;
    std::vector<UniqueFd> opened;
    for (;;) {
      UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (!fd) break;
      highest = fd.get();
      opened.push_back(std::move(fd));
    }
    r.Say("open_past_limit", strerrorname_np(errno));
    r.Say("highest_fd", highest);
    opened.clear();
    void* big = ::mmap(nullptr, 512ull << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    r.Say("mmap_past_as", big == MAP_FAILED ? strerrorname_np(errno) : "ok");
    // One second of CPU, then SIGXCPU.
    r.Say("spin", Describe(StatusOf([] {
            ::alarm(10);  // SIGALRM instead, were RLIMIT_CPU not set
            for (;;) asm volatile("");
          })));
  });
  RequireClean(result);
  Facts& f = result.facts;
  CHECK(f["as"] == std::to_string(256ull << 20) + "/" + std::to_string(256ull << 20));
  CHECK(f["cpu"] == "1/2");
  CHECK(f["fsize"] == "1048576/1048576");
  CHECK(f["nofile"] == "16/16");
  CHECK(f["nproc"] == "1000/1000");
  CHECK(f["core"] == "0/0");
  CHECK(f["memlock"] == "0/0");
  CHECK(f["msgqueue"] == "0/0");
  CHECK(f["write_to_limit"] == "ok");
  CHECK(f["write_past_limit"] == "EFBIG");
  CHECK(f["open_past_limit"] == "EMFILE");
  CHECK(f["highest_fd"] == "15");
  CHECK(f["mmap_past_as"] == "ENOMEM");
  CHECK(f["spin"] == "signal XCPU");
}

TEST_CASE("privileges in the user namespace: SwitchToSandboxIds and DropPrivileges") {
  JailPolicy policy = ZygotePolicy();
  Result result = RunJailed(policy, [&](Reporter& r) {
    EnterNamespaces(r, policy);
    SayCaps(r, "before_");
    r.Must(DropPrivileges(policy));
    SayCaps(r, "");
    // What the namespace's capabilities allowed a moment ago.
    r.Say("sethostname", Outcome(::sethostname("x", 1)));
    r.Say("mount", Outcome(::mount("tmpfs", "/tmp", "tmpfs", 0, nullptr)));
    r.Say("setuid_0", Outcome(::setuid(0)));
  });
  RequireClean(result);
  Facts& f = result.facts;
  // Before the step the child holds the user namespace's full sets.
  CHECK(f["before_effective"] != "0");
  CHECK(f["before_bounding"] != "0");
  CHECK(f["before_no_new_privs"] == "0");
  // A root zygote's child changed its host uid (0 to 65534) in
  // SwitchToSandboxIds, and the kernel already cleared dumpable then; an
  // unprivileged one's keeps its uid, and only DropPrivileges clears it.
  if (!IsRoot()) CHECK(f["before_dumpable"] == "1");
  for (const char* set : {"effective", "permitted", "inheritable", "bounding", "ambient"}) {
    CAPTURE(std::string(set));
    CHECK(f[set] == "0");
  }
  CHECK(f["no_new_privs"] == "1");
  CHECK(f["dumpable"] == "0");
  CHECK(f["sethostname"] == "EPERM");
  CHECK(f["mount"] == "EPERM");
  CHECK(f["setuid_0"] == "EINVAL");  // uid 0 is not even mapped
}

TEST_CASE("privileges without namespaces (root): DropPrivileges switches the ids") {
  if (!IsRoot()) {
    MESSAGE("needs root: an unprivileged zygote without namespaces keeps its own ids");
    return;
  }
  JailPolicy policy = ZygotePolicy();
  policy.layers.namespaces = false;
  Result result = RunForked([&](Reporter& r, int) {
    SayCaps(r, "before_");
    r.Say("before_shadow", Outcome(::access("/etc/shadow", R_OK)));
    r.Must(DropPrivileges(policy));
    SayCaps(r, "");
    uid_t u[3];
    gid_t g[3];
    ::getresuid(&u[0], &u[1], &u[2]);
    ::getresgid(&g[0], &g[1], &g[2]);
    r.Say("uids", std::to_string(u[0]) + "," + std::to_string(u[1]) + "," + std::to_string(u[2]));
    r.Say("gids", std::to_string(g[0]) + "," + std::to_string(g[1]) + "," + std::to_string(g[2]));
    r.Say("groups", ::getgroups(0, nullptr));
    r.Say("shadow", Outcome(::access("/etc/shadow", R_OK)));
    r.Say("setuid_0", Outcome(::setuid(0)));
  });
  RequireClean(result);
  Facts& f = result.facts;
  CHECK(f["before_effective"] != "0");
  CHECK(f["before_no_new_privs"] == "0");
  CHECK(f["before_dumpable"] == "1");
  CHECK(f["before_shadow"] == "ok");
  for (const char* set : {"effective", "permitted", "inheritable", "bounding", "ambient"}) {
    CAPTURE(std::string(set));
    CHECK(f[set] == "0");
  }
  CHECK(f["no_new_privs"] == "1");
  CHECK(f["dumpable"] == "0");
  const std::string id = std::to_string(policy.sandbox_uid), gid = std::to_string(policy.sandbox_gid);
  CHECK(f["uids"] == id + "," + id + "," + id);
  CHECK(f["gids"] == gid + "," + gid + "," + gid);
  CHECK(f["groups"] == "0");
  CHECK(f["shadow"] == "EACCES");
  CHECK(f["setuid_0"] == "EPERM");
}

TEST_CASE("environment: ResetEnvironment") {
  JailPolicy policy = ZygotePolicy();
  Result result = RunForked([&](Reporter& r, int) {
    ::setenv("WARMJAIL_STEP_SECRET", "from the server", 1);
    ::setenv("LD_PRELOAD", "/tmp/evil.so", 1);
    r.Must(ResetEnvironment(policy.environment));
    std::vector<std::string> entries;
    for (char** e = environ; *e != nullptr; ++e) entries.push_back(*e);
    r.Say("environ", Joined(entries));
    r.Say("secret", ::getenv("WARMJAIL_STEP_SECRET") ? "present" : "absent");
  });
  RequireClean(result);
  CHECK(result.facts["environ"] == Joined(policy.environment));
  CHECK(result.facts["environ"].find("PATH=/usr/bin:/bin") != std::string::npos);
  CHECK(result.facts["secret"] == "absent");
}

TEST_CASE("descriptors: KeepOnlyChildFds") {
  auto Pipe = [] {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    return std::make_pair(UniqueFd(p[0]), UniqueFd(p[1]));
  };
  std::pair<UniqueFd, UniqueFd> out = Pipe(), err = Pipe(), status = Pipe();
  UniqueFd &out_r = out.first, &out_w = out.second, &err_r = err.first, &err_w = err.second;
  UniqueFd &status_r = status.first, &status_w = status.second;
  int sp[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
  UniqueFd spare_parent(sp[0]), spare_child(sp[1]);
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  // Descriptors of the zygote a child must not keep: one inheritable (no
  // O_CLOEXEC), one high.
  UniqueFd inheritable(::open("/dev/null", O_RDONLY));
  UniqueFd high(::fcntl(devnull.get(), F_DUPFD_CLOEXEC, 200));
  struct stat null_st;
  REQUIRE(::fstat(devnull.get(), &null_st) == 0);

  Result result = RunForked([&](Reporter& r, int report_fd) {
    r.Say("before", OpenFds());
    ChildFds fds{devnull.get(), out_w.get(), err_w.get(), report_fd, status_w.get(), spare_child.get()};
    r.Must(KeepOnlyChildFds(fds));
    r.set_fd(kResultFd);  // the report pipe, moved
    r.Say("open", OpenFds());
    std::vector<std::string> cloexec;
    for (int fd = 0; fd < 6; ++fd)
      if (::fcntl(fd, F_GETFD) & FD_CLOEXEC) cloexec.push_back(std::to_string(fd));
    r.Say("cloexec", Joined(cloexec));
    struct stat st;
    r.Say("stdin_is_null", ::fstat(0, &st) == 0 && st.st_rdev == null_st.st_rdev);
    (void)!::write(1, "out", 3);
    (void)!::write(2, "err", 3);
    (void)!::write(kStatusFd, "status", 6);
    (void)!::send(kSpareFd, "spare", 5, MSG_NOSIGNAL);
  });
  // The child's copies are closed: each end reads what the child wrote, then EOF.
  out_w.reset();
  err_w.reset();
  status_w.reset();
  spare_child.reset();
  auto Drain = [](int fd) {
    std::string text;
    char buf[64];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, n);
    return text;
  };
  RequireClean(result);
  Facts& f = result.facts;
  INFO("before the step: " << f["before"]);
  CHECK(f["before"].find(std::to_string(inheritable.get())) != std::string::npos);
  CHECK(f["open"] == "0,1,2,3,4,5");
  CHECK(f["cloexec"] == "");
  CHECK(f["stdin_is_null"] == "1");
  CHECK(Drain(out_r.get()) == "out");
  CHECK(Drain(err_r.get()) == "err");
  CHECK(Drain(status_r.get()) == "status");
  CHECK(Drain(spare_parent.get()) == "spare");
}

TEST_CASE("seccomp: CompileSeccompFilter and LoadSeccompFilter") {
  JailPolicy policy = ZygotePolicy();
#if defined(__x86_64__)
  // int 0x80 (the i386 table) works here without the filter, or the check
  // under it would not tell.
  auto I386Getpid = [] {
    long rc = 20;  // __NR_getpid of i386
    asm volatile("int $0x80" : "+a"(rc) : : "memory");
    ::_exit(rc > 0 ? 0 : 1);
  };
  const int i386_without_filter = StatusOf(I386Getpid);
#endif
  Result result = RunForked([&](Reporter& r, int) {
    r.Say("before_socket_inet", Outcome(UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)).get()));
    r.Say("before_memfd", Outcome(UniqueFd(::memfd_create("x", MFD_CLOEXEC)).get()));
    // no_new_privs is DropPrivileges' (Specialize sets it itself when that
    // layer is off).
    r.Must(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? Status::Ok() : Status::Errno("prctl(PR_SET_NO_NEW_PRIVS)"));
    r.Must(LoadSeccompFilter(policy.seccomp_filter));
    r.Say("mode", ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
    // Harmless if it were let through: the target does not exist.
    r.Say("mount", Outcome(::mount("tmpfs", "/nonexistent-warmjail-step", "tmpfs", 0, nullptr)));
    // Also in a process of its own: a traced reporter would stop at its next signal.
    r.Say("ptrace", Describe(StatusOf([] { ::_exit(::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0 ? 0 : errno); })));
    r.Say("socket_inet", Outcome(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)));
    r.Say("socket_inet6", Outcome(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)));
    r.Say("socket_netlink", Outcome(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0)));
    r.Say("memfd_create", Outcome(::memfd_create("x", MFD_CLOEXEC)));
    // In a process of its own: a new user namespace would change what the
    // calls below see.
    r.Say("unshare", Describe(StatusOf([] { ::_exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : errno); })));
    long cloned = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (cloned == 0) ::_exit(0);  // a child the filter should not have let be
    r.Say("clone_newuser", Outcome(cloned));
    r.Say("clone3", Outcome(::syscall(SYS_clone3, nullptr, 0)));
    // In a process of its own, which exits with execve's errno (or /bin/true's 0).
    r.Say("execve", Describe(StatusOf([] {
            char* const argv[] = {const_cast<char*>("true"), nullptr};
            ::execve("/bin/true", argv, environ);
            ::_exit(errno);
          })));
    r.Say("setuid", Outcome(::setuid(::getuid())));
    // What Python needs keeps working.
    r.Say("getpid", Outcome(::getpid()));
    r.Say("socket_unix", Outcome(UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)).get()));
    r.Say("open_read", Outcome(UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)).get()));
    r.Say("fork", Describe(StatusOf([] { ::_exit(7); })));
#if defined(__x86_64__)
    r.Say("i386", Describe(StatusOf(I386Getpid)));
#endif
  });
  RequireClean(result);
  Facts& f = result.facts;
  CHECK(f["before_socket_inet"] == "ok");
  CHECK(f["before_memfd"] == "ok");
  CHECK(f["mode"] == "2");  // SECCOMP_MODE_FILTER
  CHECK(f["execve"] == "exit " + std::to_string(kRefusedErrno));
  CHECK(f["ptrace"] == "exit " + std::to_string(kRefusedErrno));
  CHECK(f["unshare"] == "exit " + std::to_string(kRefusedErrno));
  for (const char* call : {"mount", "socket_inet", "socket_inet6", "socket_netlink", "memfd_create",
                           "clone_newuser", "setuid"}) {
    CAPTURE(std::string(call));
    CHECK(f[call] == std::string(strerrorname_np(kRefusedErrno)));
  }
  CHECK(f["clone3"] == "ENOSYS");  // so that glibc falls back to clone(), whose flags the filter reads
  CHECK(f["getpid"] == "ok");
  CHECK(f["socket_unix"] == "ok");
  CHECK(f["open_read"] == "ok");
  CHECK(f["fork"] == "exit 7");
#if defined(__x86_64__)
  if (WIFEXITED(i386_without_filter) && WEXITSTATUS(i386_without_filter) == 0) {
    CHECK(f["i386"] == "signal SYS");
  } else {
    MESSAGE("no i386 syscall table in this kernel (" << Describe(i386_without_filter) << "): the kill is not observable");
  }
#endif
}

TEST_CASE("cgroups: CreateChild, joined by InitChildFromParent") {
  if (!IsRoot()) {
    MESSAGE("needs root: an unprivileged server limits memory with RLIMIT_AS");
    return;
  }
  std::string why_not;
  std::unique_ptr<CgroupManager> manager = CgroupManager::Create(&why_not);
  if (!manager) {
    MESSAGE("no cgroup hierarchy to create cgroups in: " << why_not);
    return;
  }
  constexpr uint64_t kMemory = 64ull << 20;
  constexpr uint32_t kProcs = 6;
  const std::string name = "steps-" + std::to_string(::getpid());
  Status created = Status::Ok();
  std::unique_ptr<ChildCgroup> cgroup = manager->CreateChild(name, kMemory, kProcs, &created);
  INFO(created.message());
  REQUIRE(cgroup);
  std::vector<int> procs;
  for (const UniqueFd& fd : cgroup->procs_fds()) procs.push_back(fd.get());
  // Without namespaces the child is a plain fork; the cgroup is its only layer.
  JailPolicy policy = ZygotePolicy();
  policy.layers = Layers{false, false, false, false};
  const int version = manager->version();

  Result result = RunJailed(
      policy,
      [&](Reporter& r) {
        r.Say("cgroup", ReadText("/proc/self/cgroup"));
        // Forks until the pids limit refuses one (this process counts too).
        std::vector<pid_t> kids;
        for (uint32_t i = 0; i < kProcs + 2; ++i) {
          pid_t pid = ::fork();
          if (pid == 0) {
            ::pause();
            ::_exit(0);
          }
          if (pid < 0) {
            r.Say("fork_refused", strerrorname_np(errno));
            break;
          }
          kids.push_back(pid);
        }
        r.Say("forks", static_cast<long long>(kids.size()));
        for (pid_t pid : kids) {
          ::kill(pid, SIGKILL);
          ::waitpid(pid, nullptr, 0);
        }
        // Touching twice the memory limit: the OOM killer ends the process.
        r.Say("touch", Describe(StatusOf([] {
                constexpr size_t kBytes = 2 * kMemory;
                char* p = static_cast<char*>(::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE,
                                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
                if (p == MAP_FAILED) ::_exit(2);
                for (size_t i = 0; i < kBytes; i += 4096) p[i] = 1;
                ::_exit(0);
              })));
      },
      procs);
  RequireClean(result);
  Facts& f = result.facts;
  CHECK(f["cgroup"].find("/" + name + "|") != std::string::npos);
  if (version == 1) {
    CHECK(f["cgroup"].find(":memory:") != std::string::npos);
    CHECK(f["cgroup"].find(":pids:") != std::string::npos);
  }
  CHECK(f["fork_refused"] == "EAGAIN");
  CHECK(f["forks"] == std::to_string(kProcs - 1));
  CHECK(f["touch"] == "signal KILL");
  CHECK(cgroup->OomKilled());
}

TEST_CASE("fork-enter: a worker forked into a nest (MakeNest, AimForkAtNest, EnterNest)") {
  JailPolicy base = ZygotePolicy();
  constexpr uint64_t kTmpBytes = 4ull << 20;
  Result result = RunForked([&](Reporter& r, int report_fd) {
    // As the zygote: an unprivileged one first takes a user namespace of its
    // own (here in this forked child, so the test process stays as it is).
    if (!IsRoot()) r.Must(TakeOwnUserNs());
    JailPolicy policy = base;
    SetOuterIds(&policy);
    Nest nest;
    r.Must(MakeNest(policy, kTmpBytes, {}, &nest));
    const std::vector<int> held = nest.Fds();
    r.Say("nest_fds", static_cast<long long>(std::count_if(held.begin(), held.end(), [](int fd) { return fd >= 0; })));
    r.Must(AimForkAtNest(nest));
    UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    pid_t worker = ::fork();
    if (worker == 0) {
      ChildFds fds{devnull.get(), devnull.get(), devnull.get(), report_fd, devnull.get(), devnull.get()};
      ChildLimits limits;
      StageTimes times;
      int at = report_fd;
      Status s = EnterNest(policy, limits, fds, &nest, {}, &at, &times);
      // Once EnterNest has moved the descriptors, the report pipe is kResultFd.
      r.set_fd(s.ok() || at == kSpareFd ? kResultFd : report_fd);
      r.Must(s);
      char host[64] = {};
      ::gethostname(host, sizeof host - 1);
      r.Say("pid", ::getpid());
      r.Say("ppid", ::getppid());
      r.Say("hostname", host);
      r.Say("uid", static_cast<long long>(::getuid()));
      r.Say("root_create", Outcome(::open("/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)));
      struct statfs sf;
      r.Say("tmp_is_tmpfs", ::statfs("/tmp", &sf) == 0 && sf.f_type == TMPFS_MAGIC);
      r.Say("tmp_bytes", static_cast<long long>(sf.f_blocks * sf.f_bsize));
      r.Say("cwd", std::filesystem::current_path().string());
      std::vector<std::string> pids;
      for (const std::string& name : DirEntries("/proc"))
        if (std::all_of(name.begin(), name.end(), ::isdigit)) pids.push_back(name);
      r.Say("proc_pids", Joined(pids));
      r.Say("seccomp", static_cast<long long>(::prctl(PR_GET_SECCOMP, 0, 0, 0, 0)));
      r.Say("no_new_privs", static_cast<long long>(::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)));
      r.Say("shadow", Outcome(::open("/etc/shadow", O_RDONLY | O_CLOEXEC)));
      r.Say("cgroups_root", AllCgroupsRoot(ReadText("/proc/self/cgroup")));
      ::_exit(0);
    }
    int status = -1;
    while (::waitpid(worker, &status, 0) < 0 && errno == EINTR) {
    }
    r.Say("worker_exit", Describe(status));
    // Killing the init ends the nest: its pidfd becomes readable.
    ::syscall(SYS_pidfd_send_signal, nest.pidfd.get(), SIGKILL, nullptr, 0);
    struct pollfd p = {nest.pidfd.get(), POLLIN, 0};
    r.Say("init_gone", ::poll(&p, 1, 10000) == 1);
  });
  RequireClean(result);
  Facts& f = result.facts;
  CHECK(f["nest_fds"] == std::to_string(kNestFdCount));
  CHECK(f["worker_exit"] == "exit 0");
  CHECK(f["pid"] == "2");
  CHECK(f["ppid"] == "0");
  CHECK(f["hostname"] == base.hostname);
  CHECK(f["uid"] == std::to_string(base.sandbox_uid));
  CHECK(f["root_create"] == "EROFS");
  CHECK(f["tmp_is_tmpfs"] == "1");
  CHECK(f["tmp_bytes"] == std::to_string(kTmpBytes));
  CHECK(f["cwd"] == "/tmp");
  CHECK(f["proc_pids"] == "1,2");
  CHECK(f["seccomp"] == "2");
  CHECK(f["no_new_privs"] == "1");
  CHECK(f["shadow"] == "ENOENT");
  CHECK(f["cgroups_root"] == "1");
  CHECK(f["init_gone"] == "1");
}
