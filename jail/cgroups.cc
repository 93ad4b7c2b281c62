#include "jail/cgroups.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace wj::jail {

namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

Status WriteFile(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Status::Errno("open(" + path + ")");
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) return Status::Errno("write(" + path + ", " + value + ")", err);
  return Status::Ok();
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// "key value" lines, as in memory.events and memory.oom_control.
uint64_t ReadKey(const std::string& path, const std::string& key) {
  std::string text;
  if (!ReadFile(path, &text)) return 0;
  std::istringstream in(text);
  std::string k;
  uint64_t v;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

uint64_t ReadNumber(const std::string& path) {
  std::string text;
  if (!ReadFile(path, &text)) return 0;
  try {
    return std::stoull(text);
  } catch (...) {
    return 0;
  }
}

// This process's cgroup path for `controller` ("" for the v2 line).
std::string OwnCgroup(const std::string& controller) {
  std::string text;
  ReadFile("/proc/self/cgroup", &text);
  return CgroupOf(text, controller);
}

// Where a cgroup hierarchy is mounted: fstype "cgroup2", or "cgroup" with
// `controller` among its super options.
std::string MountPoint(const std::string& fstype, const std::string& controller) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  MountinfoLine m;
  while (std::getline(in, line)) {
    if (!ParseMountinfoLine(line, &m) || m.fstype != fstype) continue;
    if (controller.empty()) return m.mount_point;
    std::stringstream ss(m.super_options);
    std::string o;
    while (std::getline(ss, o, ','))
      if (o == controller) return m.mount_point;
  }
  return "";
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return Status::Errno("mkdir(" + path + ")");
  return Status::Ok();
}

// Removes `dir` once the processes in it are gone, killing them (v1 has no
// cgroup.kill). False when it cannot (not ours to remove, not empty).
bool RemoveCgroupDir(const std::string& dir) {
  if (Exists(dir + "/cgroup.kill")) (void)WriteFile(dir + "/cgroup.kill", "1");
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
    if (errno != EBUSY) return false;
    std::ifstream in(dir + "/cgroup.procs");
    pid_t pid;
    while (in >> pid) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// The server's base, named by its pid. One that exists already was left by a
// dead process that had the same pid (killed before it removed it): it is
// emptied and made anew, never adopted, since its owner and contents are not
// this server's (an unprivileged server adopted a root-owned one, then could
// create no sandbox in it).
Status MakeFreshBase(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0) return Status::Ok();
  if (errno != EEXIST) return Status::Errno("mkdir(" + path + ")");
  if (DIR* d = ::opendir(path.c_str())) {
    std::vector<std::string> children;
    while (dirent* e = ::readdir(d))
      if (e->d_type == DT_DIR && e->d_name[0] != '.') children.push_back(path + "/" + e->d_name);
    ::closedir(d);
    for (const std::string& child : children) RemoveCgroupDir(child);
  }
  if (!RemoveCgroupDir(path)) return Status::Errno("rmdir(" + path + "), left by a process that had this pid");
  if (::mkdir(path.c_str(), 0755) != 0) return Status::Errno("mkdir(" + path + ")");
  return Status::Ok();
}

// A sandbox's own cgroup: never one that exists already, which would belong
// to another sandbox (its limits and counters shared, and its clean-up
// killing both).
Status MakeNewDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) return Status::Errno("mkdir(" + path + ")");
  return Status::Ok();
}

// True when the space-separated `list` (cgroup.controllers) names `controller`
// ("cpu" must not match "cpuset").
bool HasController(const std::string& list, const std::string& controller) {
  std::istringstream in(list);
  std::string c;
  while (in >> c)
    if (c == controller) return true;
  return false;
}

// cpu.max of every sandbox on cgroup v2: one CPU's worth (quota and period,
// microseconds), so a sandbox's threads and children together cannot take
// more than one CPU from the other sandboxes and the server.
constexpr char kSandboxCpuMax[] = "100000 100000";

std::string Join(const std::string& a, const std::string& b) {
  if (b.empty() || b == "/") return a;
  return a + (b[0] == '/' ? "" : "/") + b;
}

}  // namespace

std::string CgroupOf(const std::string& proc_cgroup, const std::string& controller) {
  std::istringstream in(proc_cgroup);
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1);
    if (controller.empty() && ctrls.empty()) return line.substr(b + 1);
    std::stringstream ss(ctrls);
    std::string c;
    while (std::getline(ss, c, ','))
      if (c == controller) return line.substr(b + 1);
  }
  return "";
}

bool ParseMountinfoLine(const std::string& line, MountinfoLine* out) {
  size_t dash = line.find(" - ");
  if (dash == std::string::npos) return false;
  std::istringstream pre(line.substr(0, dash)), post(line.substr(dash + 3));
  std::string id, parent, dev, source;
  pre >> id >> parent >> dev >> out->root >> out->mount_point;
  post >> out->fstype >> source >> out->super_options;
  return true;
}

std::string SandboxCgroupName(pid_t zygote, uint64_t serial) {
  return "sandbox-" + std::to_string(zygote) + "-" + std::to_string(serial);
}

void RemoveSandboxCgroups(pid_t zygote, int version, const std::vector<std::string>& bases) {
  const std::string prefix = "sandbox-" + std::to_string(zygote) + "-";
  std::vector<std::string> dirs;
  for (const std::string& base : bases) {
    if (base.empty()) continue;
    DIR* d = ::opendir(base.c_str());
    if (d == nullptr) continue;
    while (dirent* e = ::readdir(d))
      if (std::string(e->d_name).compare(0, prefix.size(), prefix) == 0) dirs.push_back(base + "/" + e->d_name);
    ::closedir(d);
  }
  if (!dirs.empty()) ChildCgroup(std::move(dirs), {}, "", version);  // its destructor kills and removes
}

ChildCgroup::ChildCgroup(std::vector<std::string> dirs, std::vector<UniqueFd> procs, std::string memory_dir,
                         int version)
    : dirs_(std::move(dirs)), procs_(std::move(procs)), memory_dir_(std::move(memory_dir)), version_(version) {}

ChildCgroup::~ChildCgroup() {
  procs_.clear();
  for (const std::string& dir : dirs_) {
    if (version_ == 2 && Exists(dir + "/cgroup.kill")) (void)WriteFile(dir + "/cgroup.kill", "1");
    // rmdir fails with EBUSY until the last task is gone; the PID namespace
    // makes that immediate after the child is reaped, so this rarely loops.
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) break;
      if (version_ == 1) {
        std::ifstream in(dir + "/cgroup.procs");
        pid_t pid;
        while (in >> pid) ::kill(pid, SIGKILL);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

bool ChildCgroup::OomKilled() const {
  if (version_ == 2) return ReadKey(memory_dir_ + "/memory.events", "oom_kill") > 0;
  return ReadKey(memory_dir_ + "/memory.oom_control", "oom_kill") > 0;
}

uint64_t ChildCgroup::PeakMemoryBytes() const {
  if (version_ == 2) return ReadNumber(memory_dir_ + "/memory.peak");
  return ReadNumber(memory_dir_ + "/memory.max_usage_in_bytes");
}

uint64_t ChildCgroup::MemoryUsageBytes() const {
  if (version_ == 2) return ReadNumber(memory_dir_ + "/memory.current");
  return ReadNumber(memory_dir_ + "/memory.usage_in_bytes");
}

CgroupManager::CgroupManager(int version, std::string memory_base, std::string pids_base, bool owns_base)
    : version_(version), owns_base_(owns_base), memory_base_(std::move(memory_base)), pids_base_(std::move(pids_base)) {}

std::unique_ptr<CgroupManager> CgroupManager::Attach(int version, std::string memory_base, std::string pids_base) {
  return std::unique_ptr<CgroupManager>(new CgroupManager(version, std::move(memory_base), std::move(pids_base), false));
}

Status ChildCgroup::SetMemoryLimit(uint64_t bytes) const {
  if (version_ == 2) return WriteFile(memory_dir_ + "/memory.max", std::to_string(bytes));
  // v1 refuses a memory limit above memsw; lower memsw last, raise it first.
  std::string memsw = memory_dir_ + "/memory.memsw.limit_in_bytes";
  bool has_memsw = Exists(memsw);
  if (has_memsw) (void)WriteFile(memsw, std::to_string(bytes));
  Status s = WriteFile(memory_dir_ + "/memory.limit_in_bytes", std::to_string(bytes));
  if (has_memsw) (void)WriteFile(memsw, std::to_string(bytes));
  return s;
}

CgroupManager::~CgroupManager() {
  if (owns_cpuacct_base_) ::rmdir(cpuacct_base_.c_str());
  if (!owns_base_) return;
  // Remove the sandboxes' parent when it is empty; a still-running sibling
  // server keeps it (rmdir then fails with EBUSY, harmlessly).
  ::rmdir(memory_base_.c_str());
  if (!pids_base_.empty()) ::rmdir(pids_base_.c_str());
}

std::string CgroupManager::Describe() const {
  // What `warmjail check` and /health both say of this layer.
  if (version_ == 2) return "cgroup v2 at " + memory_base_ + ": memory, pids and CPU limits per sandbox";
  return "cgroup v1 at " + memory_base_ + " and " + pids_base_ + ": memory and pids limits per sandbox";
}

std::unique_ptr<CgroupManager> CgroupManager::Create(std::string* why_not) {
  const std::string base_name = "warmjail-" + std::to_string(::getpid());
  // cgroup v2 with the memory and pids controllers available to us.
  std::string v2 = MountPoint("cgroup2", "");
  if (!v2.empty()) {
    std::string own = Join(v2, OwnCgroup(""));
    std::string controllers;
    ReadFile(own + "/cgroup.controllers", &controllers);
    if (HasController(controllers, "memory") && HasController(controllers, "pids")) {
      // The cpu controller, where delegated too, bounds each sandbox to one CPU.
      const std::string enable = HasController(controllers, "cpu") ? "+memory +pids +cpu" : "+memory +pids";
      // "No internal processes": a cgroup that hands controllers to children
      // may hold no process itself, so the server first moves into a leaf.
      std::string leaf = own + "/warmjail-server";
      Status s = MakeDir(leaf);
      if (s.ok()) s = WriteFile(leaf + "/cgroup.procs", std::to_string(::getpid()));
      if (s.ok()) s = WriteFile(own + "/cgroup.subtree_control", enable);
      std::string base = own + "/" + base_name;
      if (s.ok()) s = MakeFreshBase(base);
      if (s.ok()) s = WriteFile(base + "/cgroup.subtree_control", enable);
      if (s.ok()) return std::unique_ptr<CgroupManager>(new CgroupManager(2, base, "", true));
      *why_not = "cgroup v2: " + s.message();
      return nullptr;
    }
  }
  // cgroup v1: separate memory and pids hierarchies.
  std::string mem_mnt = MountPoint("cgroup", "memory"), pids_mnt = MountPoint("cgroup", "pids");
  if (!mem_mnt.empty() && !pids_mnt.empty()) {
    std::string mem = Join(mem_mnt, OwnCgroup("memory")) + "/" + base_name;
    std::string pids = Join(pids_mnt, OwnCgroup("pids")) + "/" + base_name;
    Status s = MakeFreshBase(mem);
    if (s.ok()) s = MakeFreshBase(pids);
    if (s.ok()) return std::unique_ptr<CgroupManager>(new CgroupManager(1, mem, pids, true));
    *why_not = "cgroup v1: " + s.message();
    return nullptr;
  }
  *why_not = v2.empty() ? "no cgroup v2 or v1 memory+pids hierarchy is mounted"
                        : "cgroup v2: the memory and pids controllers are not delegated to this cgroup";
  return nullptr;
}

std::unique_ptr<ChildCgroup> CgroupManager::CreateChild(const std::string& name, uint64_t memory_bytes,
                                                        uint32_t max_procs, Status* status) const {
  std::vector<std::string> dirs;
  std::vector<UniqueFd> procs;
  auto fail = [&](Status s) -> std::unique_ptr<ChildCgroup> {
    *status = s;
    for (const std::string& d : dirs) ::rmdir(d.c_str());
    return nullptr;
  };
  auto open_procs = [&](const std::string& dir) -> Status {
    std::string file = dir + "/cgroup.procs";
    int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Status::Errno("open(" + file + ")");
    procs.emplace_back(fd);
    return Status::Ok();
  };
  std::string mem = memory_base_ + "/" + name;
  Status s = MakeNewDir(mem);
  if (!s.ok()) return fail(s);
  dirs.push_back(mem);
  if (version_ == 2) {
    s = WriteFile(mem + "/memory.max", std::to_string(memory_bytes));
    if (s.ok() && Exists(mem + "/memory.swap.max")) s = WriteFile(mem + "/memory.swap.max", "0");
    if (s.ok()) s = WriteFile(mem + "/pids.max", std::to_string(max_procs));
    if (s.ok() && Exists(mem + "/cpu.max")) s = WriteFile(mem + "/cpu.max", kSandboxCpuMax);
    // The OOM killer otherwise picks one process: with the memory spread over
    // several, it may kill children and leave the script waiting for them
    // until the deadline. As a group, an OOM ends the whole sandbox at once,
    // and the request as memory_limit.
    if (s.ok()) s = WriteFile(mem + "/memory.oom.group", "1");
    if (s.ok()) s = open_procs(mem);
  } else {
    s = WriteFile(mem + "/memory.limit_in_bytes", std::to_string(memory_bytes));
    if (s.ok() && Exists(mem + "/memory.memsw.limit_in_bytes"))
      s = WriteFile(mem + "/memory.memsw.limit_in_bytes", std::to_string(memory_bytes));
    if (s.ok()) s = open_procs(mem);
    std::string pids = pids_base_ + "/" + name;
    if (s.ok()) s = MakeNewDir(pids);
    if (s.ok()) dirs.push_back(pids);
    if (s.ok()) s = WriteFile(pids + "/pids.max", std::to_string(max_procs));
    if (s.ok()) s = open_procs(pids);
  }
  if (!s.ok()) return fail(s);
  *status = Status::Ok();
  return std::make_unique<ChildCgroup>(std::move(dirs), std::move(procs), mem, version_);
}

// -- CPU time of a sandbox --------------------------------------------------

CpuCgroup::CpuCgroup(std::string dir, UniqueFd procs, bool owns, int version)
    : dir_(std::move(dir)), procs_(std::move(procs)), owns_(owns), version_(version) {}

CpuCgroup::~CpuCgroup() {
  procs_.reset();
  if (!owns_) return;
  // The sandbox's memory cgroup is removed first (its destructor kills what
  // is left); this one empties at the same moment.
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) break;
    std::ifstream in(dir_ + "/cgroup.procs");
    pid_t pid;
    while (in >> pid) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool CpuCgroup::UsageUs(uint64_t* us) const {
  std::string text;
  if (version_ == 2) {
    if (!ReadFile(dir_ + "/cpu.stat", &text)) return false;
    std::istringstream in(text);
    std::string key;
    uint64_t value;
    while (in >> key >> value) {
      if (key == "usage_usec") {
        *us = value;
        return true;
      }
    }
    return false;
  }
  if (!ReadFile(dir_ + "/cpuacct.usage", &text)) return false;
  try {
    *us = std::stoull(text) / 1000;  // nanoseconds
  } catch (...) {
    return false;
  }
  return true;
}

Status CgroupManager::EnableCpuAccounting() {
  if (version_ == 2) return Status::Ok();
  std::string mnt = MountPoint("cgroup", "cpuacct");
  if (mnt.empty()) return Status::Error("no cgroup v1 cpuacct hierarchy is mounted");
  std::string base = Join(mnt, OwnCgroup("cpuacct")) + "/" + memory_base_.substr(memory_base_.rfind('/') + 1);
  WJ_RETURN_IF_ERROR(MakeFreshBase(base));
  cpuacct_base_ = base;
  owns_cpuacct_base_ = owns_base_;
  return Status::Ok();
}

std::unique_ptr<CpuCgroup> CgroupManager::CreateCpuChild(const std::string& name, Status* status) const {
  if (version_ == 2) return std::make_unique<CpuCgroup>(memory_base_ + "/" + name, UniqueFd(), false, 2);
  if (cpuacct_base_.empty()) {
    *status = Status::Error("no cpuacct hierarchy");
    return nullptr;
  }
  std::string dir = cpuacct_base_ + "/" + name;
  Status s = MakeNewDir(dir);
  if (!s.ok()) {
    *status = s;
    return nullptr;
  }
  std::string file = dir + "/cgroup.procs";
  UniqueFd procs(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  if (!procs) {
    *status = Status::Errno("open(" + file + ")");
    ::rmdir(dir.c_str());
    return nullptr;
  }
  return std::make_unique<CpuCgroup>(dir, std::move(procs), true, 1);
}

ProcessTable ProcessTable::Read() {
  ProcessTable table;
  DIR* proc = ::opendir("/proc");
  if (!proc) return table;
  char path[300], buf[1024];
  while (struct dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    std::snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // gone since readdir
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    // The command name may hold anything, ')' included: the fields start
    // after the last ')'.
    char* end = std::strrchr(buf, ')');
    if (!end) continue;
    int ppid = 0;
    unsigned long long utime = 0, stime = 0;
    long long cutime = 0, cstime = 0;
    if (std::sscanf(end + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ppid, &utime,
                    &stime, &cutime, &cstime) != 5)
      continue;
    uint64_t own = utime + stime;
    table.entries_.push_back({static_cast<pid_t>(std::atoi(e->d_name)), static_cast<pid_t>(ppid), own,
                              own + static_cast<uint64_t>(std::max(0LL, cutime) + std::max(0LL, cstime))});
  }
  ::closedir(proc);
  std::sort(table.entries_.begin(), table.entries_.end(),
            [](const Entry& a, const Entry& b) { return a.ppid < b.ppid; });
  return table;
}

uint64_t ProcessTable::TreeCpuUs(pid_t root, std::map<pid_t, uint64_t>* seen) const {
  static const long ticks_per_s = ::sysconf(_SC_CLK_TCK);
  uint64_t ticks = 0;
  bool found = false;
  auto remember = [&](const Entry& e) {
    auto it = seen->find(e.pid);
    if (it != seen->end()) it->second = std::max(it->second, e.own);
    else if (seen->size() < kMaxSeen) seen->emplace(e.pid, e.own);
  };
  for (const Entry& e : entries_) {
    if (e.pid == root) {
      ticks += e.ticks;
      remember(e);
      found = true;
      break;
    }
  }
  if (!found) return 0;
  // Iterative, and at most one visit per entry: the table is a snapshot
  // taken over time, so a reused pid could make it look like a cycle.
  std::vector<pid_t> todo = {root};
  size_t visits = 0;
  while (!todo.empty() && visits < entries_.size()) {
    pid_t parent = todo.back();
    todo.pop_back();
    auto range = std::equal_range(entries_.begin(), entries_.end(), Entry{0, parent, 0, 0},
                                  [](const Entry& a, const Entry& b) { return a.ppid < b.ppid; });
    for (auto it = range.first; it != range.second; ++it) {
      ticks += it->ticks;
      remember(*it);
      todo.push_back(it->pid);
      ++visits;
    }
  }
  uint64_t remembered = 0;
  for (const auto& [pid, own] : *seen) remembered += own;
  return std::max(ticks, remembered) * 1000000 / static_cast<uint64_t>(ticks_per_s > 0 ? ticks_per_s : 100);
}

}  // namespace wj::jail
