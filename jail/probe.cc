#include "jail/probe.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/cgroups.h"
#include "jail/specialize.h"
#include "util/unique_fd.h"

namespace wj::jail {

namespace {

// Runs the recipe with `layers` in a child; "" when it worked, else the error.
std::string TryLayers(JailPolicy policy, const Layers& layers) {
  policy.layers = layers;
  int msg[2], release[2];
  if (::pipe2(msg, O_CLOEXEC) != 0) return "pipe2(): failed";
  UniqueFd msg_r(msg[0]), msg_w(msg[1]);
  if (::pipe2(release, O_CLOEXEC) != 0) return "pipe2(): failed";
  UniqueFd release_r(release[0]), release_w(release[1]);
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));

  pid_t pid = CloneChild(policy);
  if (pid < 0) return std::string("clone(): ") + strerror(errno);
  if (pid == 0) {
    // Specialize reports a failure on the hand-over descriptor.
    ChildFds fds{devnull.get(), devnull.get(), devnull.get(), devnull.get(), devnull.get(), msg_w.get()};
    ChildLimits limits;
    int report_fd = fds.spare_fd;
    StageTimes times;
    Status s = Specialize(policy, limits, fds, release_r.get(), &report_fd, &times);
    if (!s.ok()) {
      (void)!::write(report_fd, s.message().data(), s.message().size());
      ::_exit(1);
    }
    ::_exit(0);
  }
  std::vector<int> no_cgroups;
  Status parent = InitChildFromParent(pid, policy, no_cgroups);
  if (parent.ok()) (void)!::write(release_w.get(), "G", 1);
  release_w.reset();
  msg_w.reset();
  std::string message;
  char buf[512];
  ssize_t n;
  while ((n = ::read(msg_r.get(), buf, sizeof buf)) > 0) message.append(buf, n);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!parent.ok()) return parent.message();
  if (!message.empty()) return message;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the probe child died (status " + std::to_string(status) + ")";
  return "";
}

}  // namespace

std::vector<LayerReport> ProbeLayers(JailPolicy* policy_in) {
  JailPolicy& policy = *policy_in;
  struct Step {
    Layer layer;
    const char* what;
  };
  const Step steps[] = {
      {Layer::kNamespaces, "user, mount, pid, net, ipc, uts, cgroup namespaces"},
      {Layer::kFilesystem, "read-only root, private tmpfs /tmp, minimal /dev, own /proc"},
      {Layer::kPrivileges, "unprivileged uid/gid, no capabilities, no_new_privs"},
      {Layer::kSeccomp, "syscall allowlist"},
  };
  std::vector<LayerReport> reports;
  Layers trying{false, false, false, false};
  bool blocked = false;
  for (const Step& step : steps) {
    LayerReport report{step.layer, false, "", ""};
    const LayerSwitch flag = SwitchOf(step.layer);
    if (!(policy.layers.*flag)) {
      report.detail = "disabled";
    } else if (blocked && step.layer == Layer::kFilesystem) {
      report.detail = "not tried: needs the mount namespace";
    } else {
      trying.*flag = true;
      std::string error = TryLayers(policy, trying);
      if (!error.empty() && step.layer == Layer::kFilesystem && error.rfind("mount(proc", 0) == 0) {
        policy.mount_proc = false;
        if (TryLayers(policy, trying).empty()) {
          error.clear();
        } else {
          policy.mount_proc = true;
        }
      }
      if (error.empty()) {
        report.active = true;
        report.detail = policy.mount_proc || step.layer != Layer::kFilesystem
                            ? step.what
                            : "read-only root, private tmpfs /tmp, minimal /dev, NO /proc (the "
                                            "host masks parts of its /proc, so the kernel refuses a new one)";
      } else {
        report.detail = error;
        trying.*flag = false;
        // Filesystem isolation needs the mount namespace.
        if (step.layer == Layer::kNamespaces) blocked = true;
      }
    }
    reports.push_back(report);
  }
  return reports;
}

LayerReport MemoryAccountingReport(const CgroupManager* cgroups, const std::string& why_no_cgroup) {
  if (cgroups) return {Layer::kMemoryAccounting, true, cgroups->Describe(), "cgroup"};
  return {Layer::kMemoryAccounting, true,
          "RLIMIT_AS above the zygote's footprint and RLIMIT_NPROC (" + why_no_cgroup + ")", "rlimit"};
}

}  // namespace wj::jail
