// Server configuration: the limits of docs/API.md as server-wide maxima, and how
// a request's own `limits` are clamped by them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "embed/zygote.h"
#include "jail/defaults.h"

namespace wj {

namespace jail {
class CgroupManager;
}

// The largest --timeout and --cpu-time, seconds (a day): beyond it the
// sandbox's deadlines (milliseconds in an int, whole seconds of RLIMIT_CPU)
// would overflow. A request's limits.timeout_s is at most --timeout.
inline constexpr double kMaxLimitSeconds = 86400;

// The defaults are jail/defaults.h's, shared with the zygote and the jail.
struct Limits {
  double timeout_s = jail::defaults::kTimeoutSeconds;
  double cpu_time_s = 0;  // 0: the same as timeout_s
  uint64_t memory_mb = jail::defaults::kMemoryMb;
  uint32_t max_procs = jail::defaults::kMaxProcs;
  uint64_t tmp_mb = jail::defaults::kTmpMb;
  uint64_t max_output_bytes = jail::defaults::kMaxOutputBytes;
  uint64_t max_result_bytes = jail::defaults::kMaxResultBytes;
};

struct Config {
  std::string host = "0.0.0.0";
  int port = 8080;
  unsigned workers = 0;  // 0: the CPUs this process may use (src/cpus.h)
  unsigned queue = 64;
  unsigned max_connections = 2048;      // connections served at once (a thread each)
  unsigned max_connections_per_client = 0;  // of those, from one address (0: half of max_connections)
  unsigned header_timeout_s = 5;        // a request's head (line and headers) must have arrived by then
  unsigned request_read_timeout_s = 15; // a request must have arrived whole by then
  // Sandboxes kept warm. Finalize resolves it once: unset becomes as many as
  // workers, and cold mode keeps none. 0 keeps none: each request's sandbox
  // is forked when it arrives.
  std::optional<unsigned> spares;
  uint64_t recycle_requests = 10000;  // a fresh zygote after this many requests (0: never)
  uint64_t recycle_seconds = 3600;    // ... or after this long (0: never)
  uint64_t max_body_bytes = 1 << 20;
  std::string api_token;
  std::string api_token_file;  // read by Finalize when set
  bool allow_degraded = false;
  bool disable_isolation = false;  // --danger-disable-isolation: benchmarks only
  embed::Mode mode = embed::Mode::kZygote;
  std::string log_format = "json";
  uint32_t sandbox_uid = jail::defaults::kSandboxUid;
  // Host uids for the sandboxes when running as root, one per live sandbox,
  // so per-user kernel quotas (pipe buffers, inotify, keys) are not shared:
  // "START:COUNT", from the range systemd leaves unused (1879048192 to
  // 2147483647). COUNT 0: every sandbox maps to sandbox_uid on the host.
  std::string sandbox_uid_range = "2000000000:65536";
  uint32_t sandbox_uid_first = 0;  // parsed by Finalize
  uint32_t sandbox_uid_count = 0;
  Limits limits;

  // Fills in derived defaults (workers = usable CPUs, spares) and checks ranges;
  // returns an error message, or nothing when the configuration is usable.
  std::optional<std::string> Finalize();
};

// The one rule for an API token, from --api-token, WARMJAIL_API_TOKEN or the
// first line of --api-token-file: trailing spaces, tabs, CRs and LFs (an
// `echo` into a file or a Kubernetes Secret) are dropped. Returns why the
// token is unusable: nothing left, or a control character inside it (no
// client can send one in a header).
std::optional<std::string> TrimApiToken(std::string* token);

// The zygote's whole configuration, from a finalized Config: the one place
// the server's settings become the zygote's. `cgroups`: the hierarchy the
// server set up, or null for none.
embed::ZygoteOptions ZygoteOptionsFor(const Config& config, const jail::CgroupManager* cgroups);

// What one request may use: the server's maxima, lowered by the request.
struct EffectiveLimits {
  double timeout_s;
  double cpu_time_s;
  uint64_t memory_mb;
  uint32_t max_procs;
  uint64_t tmp_mb;
  uint64_t max_output_bytes;
  uint64_t max_result_bytes;
};

// `timeout_s` / `memory_mb` come from the request (already validated to be
// positive and within the maxima). CPU time follows the wall-clock limit down.
EffectiveLimits Clamp(const Limits& max, std::optional<double> timeout_s, std::optional<uint64_t> memory_mb);

// 2 -> "2", 1.5 -> "1.5": how the timeout error names a limit.
std::string FormatSeconds(double seconds);

}  // namespace wj
