// What the jail does to a child, as data. The zygote builds one JailPolicy at
// start-up (the mount list resolved, the seccomp filter compiled); each
// request only adds its ChildLimits and the fds it hands over.
#pragma once
#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "jail/defaults.h"
#include "jail/layers.h"

namespace wj::jail {

// One read-only bind mount of the host into the sandbox root.
struct BindMount {
  std::string source;  // host path
  std::string target;  // path inside the sandbox
  bool is_file = false;
};

struct JailPolicy {
  Layers layers;
  // The uid/gid the script runs as inside its user namespace, and the host
  // ids they map to (SetOuterIds: never root).
  uid_t sandbox_uid = defaults::kSandboxUid;
  gid_t sandbox_gid = defaults::kSandboxUid;
  uid_t outer_uid = 0;
  gid_t outer_gid = 0;
  bool outer_is_root = false;
  // Where the child mounts the tmpfs that becomes its root (an existing
  // directory of the host, hidden only inside the child's mount namespace).
  std::string staging_dir = "/tmp";
  std::vector<BindMount> binds;
  // A fresh /proc for the PID namespace. The kernel refuses to mount one
  // where the host's /proc is partly masked (container runtimes mask it by
  // default); the probe then turns this off and the sandbox has no /proc at
  // all, rather than any view of the host's.
  bool mount_proc = true;
  std::vector<sock_filter> seccomp_filter;  // compiled once, loaded last
  std::vector<std::string> environment;     // "KEY=value", the script's whole environment
  std::string hostname = "warmjail";
};

// Per-request limits, applied by the child to itself.
struct ChildLimits {
  uint64_t address_space_bytes = 0;  // RLIMIT_AS; 0 when a cgroup limits memory
  uint32_t cpu_seconds = defaults::kTimeoutSeconds;  // RLIMIT_CPU soft limit (hard = soft + 1)
  uint64_t file_size_bytes = defaults::kTmpMb << 20;
  uint64_t tmp_bytes = defaults::kTmpMb << 20;
  uint32_t max_procs = defaults::kMaxProcs;
  uint32_t max_open_files = 64;  // also bounds the pipe and socket buffers RLIMIT_AS does not see
};

// The descriptors a child keeps; everything else is closed.
struct ChildFds {
  int stdin_fd = -1;  // /dev/null
  int stdout_fd = -1;
  int stderr_fd = -1;
  int result_fd = -1;
  int status_fd = -1;  // kStatusFd: kept free (/dev/null); the worker closes it
  int spare_fd = -1;   // the hand-over socket: ready, then the job
};

// Where the kept descriptors end up in the child.
inline constexpr int kResultFd = 3;
inline constexpr int kStatusFd = 4;
inline constexpr int kSpareFd = 5;

}  // namespace wj::jail
