// How many CPUs this process may use: the CPUs its affinity mask allows,
// lowered by the CPU quota of its cgroup (a container's `--cpus`, a
// Kubernetes `limits.cpu`). The default of --workers.
#pragma once
#include <optional>
#include <string>

namespace wj {

// The quota of cgroup v2's cpu.max ("200000 100000": 2 CPUs; "max 100000":
// none), in CPUs; nothing when unlimited or unreadable.
std::optional<double> CpuQuotaV2(const std::string& cpu_max);
// The same from cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us (quota
// -1: none).
std::optional<double> CpuQuotaV1(const std::string& quota_us, const std::string& period_us);

// This process's cgroup from /proc/self/cgroup's text: the v2 line ("0::PATH")
// when `version` is 2, else the v1 line whose controllers include "cpu".
std::string OwnCpuCgroup(const std::string& proc_self_cgroup, int version);

// Where the cpu controller is mounted, from /proc/self/mountinfo's text: a v1
// "cgroup" mount with the cpu option (preferred: on a hybrid host the cpu
// controller is there), else the "cgroup2" mount. `root` is the mount's root
// within the hierarchy (a container's own cgroup, without a cgroup
// namespace). version 0: none.
struct CpuCgroupMount {
  int version = 0;
  std::string mount_point;
  std::string root;
};
CpuCgroupMount FindCpuCgroupMount(const std::string& mountinfo);

// min(affinity CPUs, the quota rounded up), at least 1.
unsigned UsableCpus(unsigned affinity_cpus, std::optional<double> quota_cpus);

// The same for this process: sched_getaffinity, and the lowest quota of its
// cpu cgroup and each ancestor visible under the mount.
unsigned UsableCpus();

}  // namespace wj
