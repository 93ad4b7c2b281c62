// The zygote: a single-threaded process, exec'd fresh by the server, that
// holds a warm interpreter (numpy and pandas imported) and keeps a few
// children ready: forked, jailed and warmed before any request exists, so a
// job only has to be handed over. It never runs user code itself.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jail/defaults.h"
#include "jail/policy.h"
#include "jail/probe.h"

namespace wj::embed {

// zygote: warm children forked from one interpreter. cold: a fresh
// interpreter per request, in the same jail (the benchmark's baseline).
enum class Mode { kZygote, kCold };

// The modes' names, as --mode and /health spell them.
struct NamedMode {
  Mode mode;
  const char* name;
};
inline constexpr NamedMode kModeNames[] = {{Mode::kZygote, "zygote"}, {Mode::kCold, "cold"}};

constexpr const char* ModeName(Mode mode) {
  for (const NamedMode& entry : kModeNames)
    if (entry.mode == mode) return entry.name;
  return "?";
}

constexpr std::optional<Mode> ModeFromName(std::string_view name) {
  for (const NamedMode& entry : kModeNames)
    if (name == entry.name) return entry.mode;
  return std::nullopt;
}

// The zygote's whole configuration. The server derives it from its Config
// in one function (ZygoteOptionsFor, src/config.h) and sends it as the first
// message on the control socket (proto::Kind::kConfigure): the zygote is
// exec'd with no arguments, so a sandbox's /proc/1/cmdline shows nothing of
// the host (no cgroup paths, no PIDs). The limits start from jail/defaults.h,
// as Config's do.
struct ZygoteOptions {
  Mode mode = Mode::kZygote;
  jail::Layers layers;  // what the server wants; the probe says what works
  uint32_t sandbox_uid = jail::defaults::kSandboxUid;  // the uid and gid scripts run as inside
  // Children kept forked, specialized and warmed, waiting for a job. Cold
  // mode keeps none: each job pays for its child and interpreter.
  uint32_t spares = 0;
  // The server's maxima; a job lowers them for its own child.
  uint64_t memory_bytes = jail::defaults::kMemoryMb << 20;
  uint32_t cpu_seconds = jail::defaults::kTimeoutSeconds;
  uint64_t tmp_bytes = jail::defaults::kTmpMb << 20;
  uint32_t max_procs = jail::defaults::kMaxProcs;
  // Host uids for the sandboxes, one per live sandbox, when the zygote runs
  // as root (count 0: every sandbox maps to sandbox_uid on the host too).
  uint32_t host_uid_first = 0;
  uint32_t host_uid_count = 0;
  // The cgroup hierarchy the server set up (version 0: none).
  int32_t cgroup_version = 0;
  std::string cgroup_memory_base;
  std::string cgroup_pids_base;
  std::string cgroup_cpuacct_base;  // v1 only, "" when not mounted
};

// The kConfigure message's text. Both ends are the same binary.
std::string EncodeOptions(const ZygoteOptions& options);
bool DecodeOptions(const std::string& text, ZygoteOptions* options);

// The zygote's reply once warm (proto::Kind::kReady): what its probe found.
struct ReadyReport {
  std::vector<jail::LayerReport> layers;  // the jail's layers, in the recipe's order
  std::string versions;                   // of Python, numpy and pandas
  bool operator==(const ReadyReport&) const = default;
};

// The kReady message's text.
std::string EncodeReady(const ReadyReport& report);
bool DecodeReady(const std::string& text, ReadyReport* report);

// The control socket's descriptor in the zygote.
inline constexpr int kControlFd = 3;

// Reads its options from kControlFd, then runs until the server closes the
// control socket. Returns the exit code.
int ZygoteMain();

// Exit codes a child uses when it never reached user code.
inline constexpr int kExitSetupFailed = 121;

}  // namespace wj::embed
