// warmjail: run untrusted Python over HTTP in a sandbox forked from a warm
// zygote. Subcommands: serve (default), run, check; __zygote and __fork-floor
// (the bench's cost floor, embed/floor.h) are internal.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "embed/floor.h"
#include "embed/zygote.h"
#include "jail/cgroups.h"
#include "jail/default_policy.h"
#include "jail/probe.h"
#include "src/http_server.h"
#include "src/log.h"
#include "src/outcome.h"
#include "src/service.h"
#include "src/zygote_client.h"

namespace {

using wj::Config;

void AddLimitOptions(CLI::App* app, Config& c) {
  app->add_option("--timeout", c.limits.timeout_s, "Wall-clock limit per script, seconds (maximum; at most " + wj::FormatSeconds(wj::kMaxLimitSeconds) + ")")
      ->envname("WARMJAIL_TIMEOUT")->capture_default_str();
  app->add_option("--cpu-time", c.limits.cpu_time_s, "CPU-time limit per script, seconds (default: --timeout; at most " + wj::FormatSeconds(wj::kMaxLimitSeconds) + ")")
      ->envname("WARMJAIL_CPU_TIME");
  app->add_option("--memory-mb", c.limits.memory_mb, "Memory limit per script, MiB (maximum)")
      ->envname("WARMJAIL_MEMORY_MB")->capture_default_str();
  app->add_option("--max-procs", c.limits.max_procs, "Processes and threads per sandbox")
      ->envname("WARMJAIL_MAX_PROCS")->capture_default_str();
  app->add_option("--tmp-mb", c.limits.tmp_mb, "Size of each sandbox's /tmp, MiB (also the largest file)")
      ->envname("WARMJAIL_TMP_MB")->capture_default_str();
  app->add_option("--max-output-bytes", c.limits.max_output_bytes, "Cap on stdout and on stderr, bytes each")
      ->envname("WARMJAIL_MAX_OUTPUT_BYTES")->capture_default_str();
  app->add_option("--max-result-bytes", c.limits.max_result_bytes, "Cap on the result's JSON, bytes")
      ->envname("WARMJAIL_MAX_RESULT_BYTES")->capture_default_str();
  app->add_option_function<std::string>(
         "--mode",
         [&c](const std::string& name) {
           std::optional<wj::embed::Mode> mode = wj::embed::ModeFromName(name);
           if (!mode) throw CLI::ValidationError("--mode", "must be zygote or cold");
           c.mode = *mode;
         },
         "zygote (warm, forked) or cold (a fresh interpreter per request)")
      ->envname("WARMJAIL_MODE")->default_str(wj::embed::ModeName(c.mode));
  app->add_flag("--allow-degraded", c.allow_degraded,
                "Start even when an isolation layer is unavailable (for hosts that sandbox the container)")
      ->envname("WARMJAIL_ALLOW_DEGRADED");
  app->add_flag("--danger-disable-isolation", c.disable_isolation,
                "Run scripts WITHOUT namespaces, mounts, privilege drop or seccomp (with --allow-degraded "
                "only; for measuring what the jail costs, never for untrusted code)");
  app->add_option("--sandbox-uid", c.sandbox_uid, "uid/gid scripts run as inside their user namespace")
      ->envname("WARMJAIL_SANDBOX_UID")->capture_default_str();
  app->add_option("--sandbox-uid-range", c.sandbox_uid_range,
                  "Host uids START:COUNT, one per live sandbox, when running as root (COUNT 0: all sandboxes "
                  "share --sandbox-uid on the host)")
      ->envname("WARMJAIL_SANDBOX_UID_RANGE")->capture_default_str();
  app->add_option("--log-format", c.log_format, "json or text")->envname("WARMJAIL_LOG_FORMAT")->capture_default_str();
}

void AddServeOptions(CLI::App* app, Config& c) {
  app->add_option("--host", c.host, "Address to listen on")->envname("WARMJAIL_HOST")->capture_default_str();
  app->add_option("--port", c.port, "Port to listen on (also $PORT)")->envname("WARMJAIL_PORT")->capture_default_str();
  app->add_option("--workers", c.workers, "Sandboxes at once (default: the CPUs this process may use: its CPU affinity, lowered by its cgroup's CPU quota)")->envname("WARMJAIL_WORKERS");
  app->add_option("--queue", c.queue, "Requests that may wait for a sandbox before 429")
      ->envname("WARMJAIL_QUEUE")->capture_default_str();
  app->add_option("--max-connections", c.max_connections,
                  "Connections served at once; past that only /health and /healthz are answered")
      ->envname("WARMJAIL_MAX_CONNECTIONS")->capture_default_str();
  app->add_option("--max-connections-per-client", c.max_connections_per_client,
                  "Of those, from one client address; past that only /health and /healthz are answered "
                  "(default: half of --max-connections; behind a proxy, raise it to --max-connections)")
      ->envname("WARMJAIL_MAX_CONNECTIONS_PER_CLIENT");
  app->add_option("--header-timeout", c.header_timeout_s,
                  "Seconds a client has to send a request's line and headers")
      ->envname("WARMJAIL_HEADER_TIMEOUT")->capture_default_str();
  app->add_option("--request-read-timeout", c.request_read_timeout_s,
                  "Seconds a client has to send a whole request (slow clients are cut off)")
      ->envname("WARMJAIL_REQUEST_READ_TIMEOUT")->capture_default_str();
  app->add_option("--max-body-bytes", c.max_body_bytes, "Largest request body, bytes")
      ->envname("WARMJAIL_MAX_BODY_BYTES")->capture_default_str();
  app->add_option_function<unsigned>(
         "--spares", [&c](const unsigned& spares) { c.spares = spares; },
         "Sandboxes kept forked, jailed and warm, waiting for a request (default: --workers; 0: none, each "
         "request's sandbox is forked when it arrives)")
      ->envname("WARMJAIL_SPARES");
  app->add_option("--recycle-requests", c.recycle_requests,
                  "Swap in a fresh zygote after this many requests (0: never); rotates the address layout and "
                  "hash seed its children share")
      ->envname("WARMJAIL_RECYCLE_REQUESTS")->capture_default_str();
  app->add_option("--recycle-seconds", c.recycle_seconds, "... or after this many seconds (0: never)")
      ->envname("WARMJAIL_RECYCLE_SECONDS")->capture_default_str();
  app->add_option("--api-token", c.api_token, "Require 'Authorization: Bearer <token>' on /execute")
      ->envname("WARMJAIL_API_TOKEN");
  app->add_option("--api-token-file", c.api_token_file,
                  "Read the API token from this file (first line), e.g. a mounted secret")
      ->envname("WARMJAIL_API_TOKEN_FILE");
}

constexpr int kServerMallocArenas = 4;
constexpr int kServerMmapThresholdBytes = 128 * 1024;

// Everything serve and run share: cgroups (before any thread), the zygote,
// the layer check. Exits the process on failure.
struct Runtime {
  std::unique_ptr<wj::ZygoteClient> zygote;
  std::unique_ptr<wj::Service> service;
};

int StartRuntime(Config& config, Runtime* rt) {
  std::string cgroup_note;
  std::unique_ptr<wj::jail::CgroupManager> cgroups;
  if (config.disable_isolation) cgroup_note = "disabled by --danger-disable-isolation";
  else cgroups = wj::jail::CgroupManager::Create(&cgroup_note);
  // A CPU-time counter per sandbox where the hierarchy has one; without, the
  // zygote sums each sandbox's processes itself.
  if (cgroups) (void)cgroups->EnableCpuAccounting();
  rt->zygote = std::make_unique<wj::ZygoteClient>(wj::ZygoteOptionsFor(config, cgroups.get()),
                                                  wj::RecyclePolicy{config.recycle_requests, config.recycle_seconds});
  std::string error;
  if (!rt->zygote->Start(&error)) {
    wj::LogEvent("fatal", {{"error", "the sandbox zygote did not start: " + error}});
    return 1;
  }
  rt->service = std::make_unique<wj::Service>(config, rt->zygote.get(), std::move(cgroups), cgroup_note);
  std::vector<wj::jail::LayerReport> layers = rt->service->Layers();
  wj::LogEvent("isolation", {{"layers", wj::LayersJson(layers, true)}, {"runtime", rt->zygote->Report().versions}});
  std::vector<std::string> missing;
  std::string names;
  for (const wj::jail::LayerReport& layer : layers) {
    if (layer.active) continue;
    missing.push_back(wj::jail::LayerName(layer.layer));
    names += (names.empty() ? "" : ", ") + missing.back() + " (" + layer.detail + ")";
  }
  if (!missing.empty()) {
    if (!config.allow_degraded) {
      wj::LogEvent("fatal", {{"error", "isolation layers unavailable: " + names +
                                           ". Fix the host, or start with --allow-degraded where the platform "
                                           "already sandboxes the container."}});
      return 1;
    }
    wj::LogEvent("degraded", {{"missing", missing}});
  }
  return 0;
}

int Serve(Config& config) {
  // The server's memory must not grow with its connection threads: a thread
  // that glibc gives an arena of its own keeps the response buffers it freed
  // (up to the output caps, megabytes each) resident in that arena. A few
  // shared arenas, and buffers past the threshold mapped and unmapped on
  // their own (a fixed threshold: glibc's adaptive one rises to keep them).
  ::mallopt(M_ARENA_MAX, kServerMallocArenas);
  ::mallopt(M_MMAP_THRESHOLD, kServerMmapThresholdBytes);
  // Signals are taken by one thread with sigwait(); every thread started
  // from here on inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Runtime rt;
  if (int rc = StartRuntime(config, &rt)) return rc;
  wj::LogEvent("limits", {{"timeout_s", config.limits.timeout_s}, {"cpu_time_s", config.limits.cpu_time_s},
                          {"memory_mb", config.limits.memory_mb}, {"max_procs", config.limits.max_procs},
                          {"tmp_mb", config.limits.tmp_mb}, {"workers", config.workers}, {"queue", config.queue},
                          {"max_body_bytes", config.max_body_bytes}, {"auth", !config.api_token.empty()},
                          {"max_connections", config.max_connections},
                          {"max_connections_per_client", config.max_connections_per_client},
                          {"header_timeout_s", config.header_timeout_s},
                          {"request_read_timeout_s", config.request_read_timeout_s},
                          {"mode", wj::embed::ModeName(config.mode)}});
  rt.zygote->StartSupervisor();
  wj::HttpServer http(rt.service.get(), config);
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    wj::LogEvent("shutdown", {{"signal", wj::SignalName(sig)}});
    http.Stop();
  });
  std::string error;
  bool ok = http.Listen(&error);
  if (!ok) wj::LogEvent("fatal", {{"error", error}});
  if (signal_thread.joinable()) {
    if (!ok) pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
  }
  rt.zygote->Stop();
  wj::LogEvent("stopped");
  return ok ? 0 : 1;
}

int RunOnce(Config& config, const std::string& file, const std::optional<std::string>& input) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cerr << "warmjail run: cannot read " << file << "\n";
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string body = wj::DumpBody(nlohmann::json{{"script", ss.str()}});
  if (input) {
    if (!nlohmann::json::accept(*input)) {
      std::cerr << "warmjail run: --input is not valid JSON\n";
      return 2;
    }
    // As given: main() reads it as json.loads would (key order, big integers).
    body.pop_back();
    body += ",\"input\":" + *input + "}";
  }
  ::signal(SIGPIPE, SIG_IGN);
  // One request: its child is made when it arrives, no spare kept waiting.
  config.spares = 0;
  Runtime rt;
  if (StartRuntime(config, &rt) != 0) return 2;
  wj::HttpRequest request{"POST", "/execute", body, {}, "run"};
  wj::HttpResponse response = rt.service->Execute(request);
  std::cout << response.body << std::endl;
  rt.zygote->Stop();
  if (response.status == 200) return 0;
  return response.status == 422 ? 1 : 2;
}

int Check(Config& config) {
  wj::jail::JailPolicy policy;
  wj::Status s = wj::jail::DefaultPolicy(wj::jail::Layers{}, config.sandbox_uid, &policy);
  std::vector<wj::jail::LayerReport> reports;
  if (s.ok()) {
    reports = wj::jail::ProbeLayers(&policy);
  } else {
    // Only the seccomp filter can fail to build; nothing is probed without it.
    reports.push_back({wj::jail::Layer::kSeccomp, false, s.message(), ""});
  }
  std::string note;
  auto cgroups = wj::jail::CgroupManager::Create(&note);
  reports.push_back(wj::jail::MemoryAccountingReport(cgroups.get(), note));
  bool all = true;
  std::printf("%-18s %-8s %s\n", "layer", "status", "detail");
  for (const auto& r : reports) {
    std::printf("%-18s %-8s %s\n", wj::jail::LayerName(r.layer), r.active ? "active" : "MISSING", r.detail.c_str());
    all = all && r.active;
  }
  std::printf("running as uid %d; scripts run as uid %u in their user namespace\n", ::geteuid(), config.sandbox_uid);
  if (policy.outer_is_root && config.sandbox_uid_count > 0)
    std::printf("each live sandbox gets its own host uid from %u to %u\n", config.sandbox_uid_first,
                config.sandbox_uid_first + config.sandbox_uid_count - 1);
  else
    std::printf("every sandbox runs as host uid %u (per-user kernel quotas are shared)\n", policy.outer_uid);
  return all ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"warmjail: run untrusted Python (numpy, pandas) over HTTP in a sandbox forked from a warm zygote"};
  app.set_version_flag("--version", std::string("warmjail ") + WARMJAIL_VERSION);
  app.require_subcommand(0, 1);
  Config config;

  CLI::App* serve = app.add_subcommand("serve", "Run the REST service (the default)");
  AddServeOptions(serve, config);
  AddLimitOptions(serve, config);

  CLI::App* run = app.add_subcommand("run", "Run one script through the same sandbox; the response document on stdout");
  std::string file;
  std::optional<std::string> input;
  run->add_option("file", file, "The script (defines main())")->required();
  run->add_option("--input", input, "JSON passed as main(input)");
  AddLimitOptions(run, config);

  CLI::App* check = app.add_subcommand("check", "Probe the isolation layers on this host and print a table");
  AddLimitOptions(check, config);

  // Internal: the zygote, exec'd by the server with its control socket on
  // fd 3 and no arguments; its configuration arrives on that socket.
  CLI::App* zygote = app.add_subcommand("__zygote", "")->group("");
  // Internal: the cost floor scripts/bench measures (embed/floor.h).
  CLI::App* fork_floor = app.add_subcommand("__fork-floor", "")->group("");
  unsigned floor_count = 1000;
  fork_floor->add_option("--count", floor_count, "Forks to measure");
  std::string floor_script;
  fork_floor->add_option("--script", floor_script, "Each child runs this script's main() (no jail)");

  // No subcommand: serve, with serve's options accepted at the top level.
  AddServeOptions(&app, config);
  AddLimitOptions(&app, config);
  app.fallthrough(false);

  // $PORT (what platforms such as Cloud Run and the image set) is the port's
  // default: --port and WARMJAIL_PORT, parsed next, still override it.
  if (const char* port = std::getenv("PORT"); port && !std::getenv("WARMJAIL_PORT")) {
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || errno != 0 || value < 0 || value > 65535) {
      std::cerr << "warmjail: PORT must be a port number (0-65535), not '" << port << "'\n";
      return 2;
    }
    config.port = static_cast<int>(value);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error is 2, as documented.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (zygote->parsed()) return wj::embed::ZygoteMain();
  if (fork_floor->parsed()) return wj::embed::ForkFloorMain(floor_count, floor_script);
  if (auto error = config.Finalize()) {
    std::cerr << "warmjail: " << *error << "\n";
    return 2;
  }
  wj::SetLogFormat(config.log_format);
  if (check->parsed()) return Check(config);
  if (run->parsed()) return RunOnce(config, file, input);
  return Serve(config);
}
