#include "src/config.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "jail/cgroups.h"
#include "src/cpus.h"

namespace wj {

std::optional<std::string> Config::Finalize() {
  if (workers == 0) workers = UsableCpus();
  if (port < 0 || port > 65535) return "--port must be between 0 and 65535";
  if (!(limits.timeout_s > 0)) return "--timeout must be greater than 0";
  if (!(limits.timeout_s <= kMaxLimitSeconds))
    return "--timeout must be at most " + FormatSeconds(kMaxLimitSeconds) + " seconds";
  if (limits.cpu_time_s == 0) limits.cpu_time_s = limits.timeout_s;
  if (!(limits.cpu_time_s > 0)) return "--cpu-time must be greater than 0";
  if (!(limits.cpu_time_s <= kMaxLimitSeconds))
    return "--cpu-time must be at most " + FormatSeconds(kMaxLimitSeconds) + " seconds";
  if (limits.memory_mb == 0) return "--memory-mb must be greater than 0";
  if (limits.max_procs == 0) return "--max-procs must be greater than 0";
  if (limits.tmp_mb == 0) return "--tmp-mb must be greater than 0";
  if (max_body_bytes == 0) return "--max-body-bytes must be greater than 0";
  if (max_connections < workers + queue + 8)
    return "--max-connections must leave room for every worker, every queue place and a few more";
  if (max_connections_per_client == 0) max_connections_per_client = max_connections / 2;
  if (max_connections_per_client > max_connections)
    return "--max-connections-per-client must not exceed --max-connections";
  if (request_read_timeout_s == 0) return "--request-read-timeout must be greater than 0";
  if (header_timeout_s == 0) return "--header-timeout must be greater than 0";
  if (header_timeout_s > request_read_timeout_s)
    return "--header-timeout must not exceed --request-read-timeout (the head is part of the request)";
  if (mode == embed::Mode::kCold) spares = 0;
  else if (!spares) spares = workers;
  if (disable_isolation && !allow_degraded)
    return "--danger-disable-isolation runs scripts unconfined and needs --allow-degraded as well";
  if (!api_token_file.empty()) {
    if (!api_token.empty()) return "--api-token and --api-token-file exclude each other";
    std::ifstream in(api_token_file);
    if (!in) return "--api-token-file: cannot read " + api_token_file;
    std::getline(in, api_token);
    if (auto error = TrimApiToken(&api_token)) return "--api-token-file: " + api_token_file + " " + *error;
  } else if (!api_token.empty()) {
    if (auto error = TrimApiToken(&api_token)) return "--api-token (WARMJAIL_API_TOKEN) " + *error;
  }
  if (log_format != "json" && log_format != "text") return "--log-format must be json or text";
  {
    unsigned long long first = 0, count = 0;
    char tail = 0;
    if (std::sscanf(sandbox_uid_range.c_str(), "%llu:%llu%c", &first, &count, &tail) != 2)
      return "--sandbox-uid-range must be START:COUNT";
    // Each of two zygotes (the current one and one being recycled) keeps its
    // spares, its running sandboxes and one starting for each waiting job.
    unsigned long long needed = 2ull * (*spares + 2ull * workers);
    if (count != 0 && (first == 0 || first + count - 1 > 4294967294ull))
      return "--sandbox-uid-range must lie within 1 to 4294967294 (never root)";
    if (count != 0 && count < needed)
      return "--sandbox-uid-range needs at least " + std::to_string(needed) +
             " uids for these --workers and --spares (or COUNT 0)";
    sandbox_uid_first = static_cast<uint32_t>(first);
    sandbox_uid_count = static_cast<uint32_t>(count);
  }
  return std::nullopt;
}

std::optional<std::string> TrimApiToken(std::string* token) {
  while (!token->empty() && std::strchr(" \t\r\n", token->back()) != nullptr) token->pop_back();
  if (token->empty()) return std::string("holds no token");
  for (unsigned char ch : *token)
    if (ch < 0x20 || ch == 0x7f) return std::string("holds a control character inside the token");
  return std::nullopt;
}

embed::ZygoteOptions ZygoteOptionsFor(const Config& c, const jail::CgroupManager* cgroups) {
  embed::ZygoteOptions o;
  o.mode = c.mode;
  if (c.disable_isolation) o.layers = jail::Layers{false, false, false, false};
  o.sandbox_uid = c.sandbox_uid;
  o.spares = c.spares.value_or(0);
  o.memory_bytes = c.limits.memory_mb << 20;
  o.cpu_seconds = static_cast<uint32_t>(std::ceil(c.limits.cpu_time_s));
  o.tmp_bytes = c.limits.tmp_mb << 20;
  o.max_procs = c.limits.max_procs;
  o.host_uid_first = c.sandbox_uid_first;
  o.host_uid_count = c.sandbox_uid_count;
  if (cgroups) {
    o.cgroup_version = cgroups->version();
    o.cgroup_memory_base = cgroups->memory_base();
    o.cgroup_pids_base = cgroups->pids_base();
    o.cgroup_cpuacct_base = cgroups->cpuacct_base();
  }
  return o;
}

EffectiveLimits Clamp(const Limits& max, std::optional<double> timeout_s, std::optional<uint64_t> memory_mb) {
  EffectiveLimits e{max.timeout_s, max.cpu_time_s, max.memory_mb, max.max_procs,
                    max.tmp_mb,    max.max_output_bytes, max.max_result_bytes};
  if (timeout_s) {
    e.timeout_s = std::min(*timeout_s, max.timeout_s);
    e.cpu_time_s = std::min(e.cpu_time_s, e.timeout_s);
  }
  if (memory_mb) e.memory_mb = std::min(*memory_mb, max.memory_mb);
  return e;
}

std::string FormatSeconds(double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", seconds);
  return buf;
}

}  // namespace wj
