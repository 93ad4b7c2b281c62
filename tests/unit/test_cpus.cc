#include <doctest/doctest.h>

#include <sched.h>

#include "src/config.h"
#include "src/cpus.h"

using namespace wj;

TEST_CASE("cgroup v2 cpu.max: quota over period, or none") {
  CHECK(CpuQuotaV2("max 100000\n") == std::nullopt);
  CHECK(CpuQuotaV2("200000 100000\n") == 2.0);
  CHECK(CpuQuotaV2("150000 100000") == 1.5);
  CHECK(CpuQuotaV2("50000 100000\n") == 0.5);
  CHECK(CpuQuotaV2("") == std::nullopt);
  CHECK(CpuQuotaV2("200000") == std::nullopt);
  CHECK(CpuQuotaV2("200000 0") == std::nullopt);
}

TEST_CASE("cgroup v1 cfs quota and period: -1 is none") {
  CHECK(CpuQuotaV1("-1\n", "100000\n") == std::nullopt);
  CHECK(CpuQuotaV1("200000\n", "100000\n") == 2.0);
  CHECK(CpuQuotaV1("250000\n", "50000\n") == 5.0);
  CHECK(CpuQuotaV1("", "") == std::nullopt);
  CHECK(CpuQuotaV1("100000", "") == std::nullopt);
}

TEST_CASE("the process's own cpu cgroup from /proc/self/cgroup") {
  const std::string v2 = "0::/kubepods.slice/pod1/cri-containerd-abc.scope\n";
  CHECK(OwnCpuCgroup(v2, 2) == "/kubepods.slice/pod1/cri-containerd-abc.scope");
  CHECK(OwnCpuCgroup(v2, 1) == "");
  const std::string v1 =
      "12:cpuset:/docker/abc\n"
      "4:cpu,cpuacct:/docker/abc\n"
      "1:name=systemd:/docker/abc\n"
      "0::/system.slice/x\n";
  CHECK(OwnCpuCgroup(v1, 1) == "/docker/abc");  // "cpuset" is not "cpu"
  CHECK(OwnCpuCgroup(v1, 2) == "/system.slice/x");
  CHECK(OwnCpuCgroup("3:cpuset:/a\n2:cpuacct:/b\n", 1) == "");
}

TEST_CASE("the cpu controller's mount: v1 cpu first (hybrid hosts), else cgroup2") {
  const std::string hybrid =
      "30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw\n"
      "31 25 0:27 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
      "32 25 0:28 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n";
  CpuCgroupMount m = FindCpuCgroupMount(hybrid);
  CHECK(m.version == 1);
  CHECK(m.mount_point == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(m.root == "/docker/abc");
  CpuCgroupMount u = FindCpuCgroupMount("29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
  CHECK(u.version == 2);
  CHECK(u.mount_point == "/sys/fs/cgroup");
  CHECK(u.root == "/");
  CHECK(FindCpuCgroupMount("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n").version == 0);
}

TEST_CASE("usable CPUs: the affinity mask lowered by the quota, rounded up, at least 1") {
  CHECK(UsableCpus(64, std::nullopt) == 64);
  CHECK(UsableCpus(64, 2.0) == 2);     // limits.cpu 2 on a 64-core node
  CHECK(UsableCpus(64, 1.5) == 2);
  CHECK(UsableCpus(64, 0.25) == 1);
  CHECK(UsableCpus(1, 4.0) == 1);      // taskset -c 0 under a larger quota
  CHECK(UsableCpus(0, std::nullopt) == 1);
  CHECK(UsableCpus(8, 0.0) == 8);
}

TEST_CASE("the --workers default is no more than the CPUs the affinity mask allows") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
  unsigned allowed = static_cast<unsigned>(CPU_COUNT(&set));
  CHECK(UsableCpus() >= 1);
  CHECK(UsableCpus() <= allowed);
  Config c;
  REQUIRE_FALSE(c.Finalize().has_value());
  CHECK(c.workers == UsableCpus());
}
