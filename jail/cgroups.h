// Per-sandbox cgroups (memory, pids and, where delegated, cpu) on cgroup v2,
// or on the v1 memory, pids and cpuacct hierarchies where that is what the
// host mounts. The server creates the base (CgroupManager, moving itself into
// a leaf on v2); the zygote creates one cgroup per sandbox with its spare,
// places the child in it before releasing it, lowers its memory limit to the
// request's, reads its CPU time for the watchdog and its OOM count and peak
// once the sandbox is reaped, and removes it.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "util/status.h"
#include "util/unique_fd.h"

namespace wj::jail {

class ChildCgroup {
 public:
  ChildCgroup(std::vector<std::string> dirs, std::vector<UniqueFd> procs, std::string memory_dir, int version);
  ChildCgroup(const ChildCgroup&) = delete;
  ChildCgroup& operator=(const ChildCgroup&) = delete;
  // Kills whatever is left in the cgroup and removes it.
  ~ChildCgroup();

  // The cgroup.procs files, opened for writing, one per hierarchy.
  const std::vector<UniqueFd>& procs_fds() const { return procs_; }
  // True when the kernel's OOM killer killed a process of this cgroup.
  bool OomKilled() const;
  // The highest memory use seen, in bytes (0 when the kernel does not say).
  uint64_t PeakMemoryBytes() const;
  // The memory charged to it now, in bytes (0 when the kernel does not say).
  uint64_t MemoryUsageBytes() const;
  // Lowers (or raises up to the server's maximum) the memory limit.
  Status SetMemoryLimit(uint64_t bytes) const;

 private:
  std::vector<std::string> dirs_;
  std::vector<UniqueFd> procs_;
  std::string memory_dir_;
  int version_;
};

// The CPU time of all of one sandbox's processes, live and exited, from its
// cgroup's counter: cpuacct.usage in its own cgroup of the v1 cpuacct
// hierarchy, or cpu.stat's usage_usec of its (memory and pids) cgroup on v2.
class CpuCgroup {
 public:
  // `dir`: the cgroup; `procs`: its cgroup.procs for the child to join (v1;
  // invalid on v2, where the child's memory cgroup is this one); `owns`:
  // remove `dir` when done.
  CpuCgroup(std::string dir, UniqueFd procs, bool owns, int version);
  CpuCgroup(const CpuCgroup&) = delete;
  CpuCgroup& operator=(const CpuCgroup&) = delete;
  ~CpuCgroup();
  int procs_fd() const { return procs_.get(); }
  // The counter in microseconds; false when it cannot be read.
  bool UsageUs(uint64_t* us) const;

 private:
  std::string dir_;
  UniqueFd procs_;
  bool owns_;
  int version_;
};

// Without such a counter: the CPU time of a process tree, from one pass over
// /proc. Each process counts its own user and system time and what it has
// reaped (cutime, cstime): together every live process of the tree and every
// exited one its parent reaped. A process reaped by the kernel instead (its
// parent ignores SIGCHLD) takes its time with it; `seen`, kept from pass to
// pass, remembers each process's own time as last seen, so such a process
// still counts with what it had used at the last pass.
class ProcessTable {
 public:
  static ProcessTable Read();
  // `root` and every process below it, in microseconds: the larger of the
  // tree's sum now and the sum of `seen` (updated here; at most kMaxSeen
  // processes are remembered). 0 when `root` is not in the table.
  uint64_t TreeCpuUs(pid_t root, std::map<pid_t, uint64_t>* seen) const;
  static constexpr size_t kMaxSeen = 4096;

 private:
  struct Entry {
    pid_t pid;
    pid_t ppid;
    uint64_t own;    // utime + stime
    uint64_t ticks;  // own + cutime + cstime
  };
  std::vector<Entry> entries_;  // sorted by ppid
};

// The cgroup path in /proc/PID/cgroup's text (`proc_cgroup`) of the v1
// hierarchy with `controller`, or of the v2 line ("0::PATH") for "".
std::string CgroupOf(const std::string& proc_cgroup, const std::string& controller);

// One line of /proc/PID/mountinfo: the fields a cgroup lookup needs. False
// for a line without the " - " separator.
struct MountinfoLine {
  std::string root, mount_point, fstype, super_options;
};
bool ParseMountinfoLine(const std::string& line, MountinfoLine* out);

// The name of the cgroup of a zygote's `serial`-th sandbox (in each
// hierarchy's base). Each zygote's are its own: a recycled zygote's successor
// makes its sandboxes beside those still running in it.
std::string SandboxCgroupName(pid_t zygote, uint64_t serial);

// Removes what is left of a zygote's sandbox cgroups under `bases` (the
// memory, pids and cpuacct bases; "" entries are skipped), killing any
// process still in them: what the server does once a zygote has exited, so
// one that was killed leaves nothing behind.
void RemoveSandboxCgroups(pid_t zygote, int version, const std::vector<std::string>& bases);

class CgroupManager {
 public:
  // Finds a hierarchy this process may create child cgroups in (below its own
  // cgroup). On failure returns null and says why.
  static std::unique_ptr<CgroupManager> Create(std::string* why_not);
  // The hierarchy another process created (the server, for the zygote); the
  // base is left in place when this manager goes away.
  static std::unique_ptr<CgroupManager> Attach(int version, std::string memory_base, std::string pids_base);
  ~CgroupManager();

  int version() const { return version_; }
  const std::string& memory_base() const { return memory_base_; }
  const std::string& pids_base() const { return pids_base_; }
  std::string Describe() const;
  // A new cgroup named `name` with memory.max (no swap) and pids.max set.
  std::unique_ptr<ChildCgroup> CreateChild(const std::string& name, uint64_t memory_bytes, uint32_t max_procs,
                                           Status* status) const;

  // CPU accounting per sandbox. The server calls EnableCpuAccounting once
  // after Create (v1: a base in the cpuacct hierarchy, when one is mounted;
  // v2 needs nothing: cpu.stat is in every cgroup); the zygote is told the
  // base with set_cpuacct_base. CreateCpuChild gives the counter for the
  // sandbox `name` (null, with the reason, when there is none).
  Status EnableCpuAccounting();
  void set_cpuacct_base(std::string base) { cpuacct_base_ = std::move(base); }
  const std::string& cpuacct_base() const { return cpuacct_base_; }
  std::unique_ptr<CpuCgroup> CreateCpuChild(const std::string& name, Status* status) const;

 private:
  CgroupManager(int version, std::string memory_base, std::string pids_base, bool owns_base);
  int version_;
  bool owns_base_;
  std::string memory_base_;  // v2: the one base; v1: below the memory hierarchy
  std::string pids_base_;    // v1 only
  std::string cpuacct_base_;  // v1 only; "" without a cpuacct hierarchy
  bool owns_cpuacct_base_ = false;
};

}  // namespace wj::jail
