// Per-child cgroups (memory and pids) on cgroup v2, or on the v1 memory and
// pids hierarchies where that is what the host mounts. The server owns them:
// it creates one per request, hands the zygote the cgroup.procs descriptors
// to place the child in, reads the OOM count after the child is reaped, and
// removes them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "jail/status.h"
#include "jail/unique_fd.h"

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
  // Lowers (or raises up to the server's maximum) the memory limit.
  Status SetMemoryLimit(uint64_t bytes) const;

 private:
  std::vector<std::string> dirs_;
  std::vector<UniqueFd> procs_;
  std::string memory_dir_;
  int version_;
};

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

 private:
  CgroupManager(int version, std::string memory_base, std::string pids_base, bool owns_base);
  int version_;
  bool owns_base_;
  std::string memory_base_;  // v2: the one base; v1: below the memory hierarchy
  std::string pids_base_;    // v1 only
};

}  // namespace wj::jail
