#include "src/cpus.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "jail/cgroups.h"

namespace wj {
namespace {

std::optional<double> Ratio(const std::string& quota, const std::string& period) {
  char* end = nullptr;
  long long q = std::strtoll(quota.c_str(), &end, 10);
  if (end == quota.c_str() || q <= 0) return std::nullopt;
  long long p = std::strtoll(period.c_str(), &end, 10);
  if (end == period.c_str() || p <= 0) return std::nullopt;
  return static_cast<double>(q) / static_cast<double>(p);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned AffinityCpus() {
  for (int n = CPU_SETSIZE; n <= (1 << 20); n *= 2) {
    cpu_set_t* set = CPU_ALLOC(n);
    if (!set) break;
    size_t size = CPU_ALLOC_SIZE(n);
    CPU_ZERO_S(size, set);
    if (::sched_getaffinity(0, size, set) == 0) {
      int count = CPU_COUNT_S(size, set);
      CPU_FREE(set);
      return count > 0 ? static_cast<unsigned>(count) : 1;
    }
    CPU_FREE(set);
    if (errno != EINVAL) break;  // EINVAL: the kernel's mask is larger
  }
  long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<unsigned>(online) : 1;
}

}  // namespace

std::optional<double> CpuQuotaV2(const std::string& cpu_max) {
  std::istringstream in(cpu_max);
  std::string quota, period;
  if (!(in >> quota >> period) || quota == "max") return std::nullopt;
  return Ratio(quota, period);
}

std::optional<double> CpuQuotaV1(const std::string& quota_us, const std::string& period_us) {
  return Ratio(quota_us, period_us);  // -1 (no quota) is not positive
}

std::string OwnCpuCgroup(const std::string& proc_self_cgroup, int version) {
  return jail::CgroupOf(proc_self_cgroup, version == 2 ? "" : "cpu");
}

CpuCgroupMount FindCpuCgroupMount(const std::string& mountinfo) {
  CpuCgroupMount v2;
  std::istringstream in(mountinfo);
  std::string line;
  jail::MountinfoLine m;
  while (std::getline(in, line)) {
    if (!jail::ParseMountinfoLine(line, &m)) continue;
    if (m.fstype == "cgroup2" && v2.version == 0) v2 = {2, m.mount_point, m.root};
    if (m.fstype != "cgroup") continue;
    std::istringstream list(m.super_options);
    std::string o;
    while (std::getline(list, o, ','))
      if (o == "cpu") return {1, m.mount_point, m.root};
  }
  return v2;
}

unsigned UsableCpus(unsigned affinity_cpus, std::optional<double> quota_cpus) {
  unsigned cpus = std::max(affinity_cpus, 1u);
  if (quota_cpus && *quota_cpus > 0)
    cpus = std::min(cpus, static_cast<unsigned>(std::max(1.0, std::ceil(*quota_cpus))));
  return cpus;
}

unsigned UsableCpus() {
  std::optional<double> quota;
  CpuCgroupMount mount = FindCpuCgroupMount(ReadAll("/proc/self/mountinfo"));
  if (mount.version != 0) {
    // The own cgroup relative to the mount: without a cgroup namespace a
    // container sees its cgroup's full path but has only it mounted.
    std::string own = OwnCpuCgroup(ReadAll("/proc/self/cgroup"), mount.version);
    if (mount.root != "/" && own.compare(0, mount.root.size(), mount.root) == 0) own = own.substr(mount.root.size());
    // The cgroup and each ancestor up to the mount: the lowest quota bounds.
    for (std::string rel = own;;) {
      std::string dir = mount.mount_point + rel;
      std::optional<double> q =
          mount.version == 2 ? CpuQuotaV2(ReadAll(dir + "/cpu.max"))
                             : CpuQuotaV1(ReadAll(dir + "/cpu.cfs_quota_us"), ReadAll(dir + "/cpu.cfs_period_us"));
      if (q && (!quota || *q < *quota)) quota = q;
      size_t slash = rel.find_last_of('/');
      if (rel.empty() || rel == "/" || slash == std::string::npos) break;
      rel.resize(slash);
    }
  }
  return UsableCpus(AffinityCpus(), quota);
}

}  // namespace wj
