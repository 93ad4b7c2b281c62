#include "src/service.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <string_view>

namespace wj {

namespace {
const char kNotReadyReason[] = "the sandbox zygote is not running (restarting)";
constexpr std::string_view kBearer = "Bearer";

// The `outcome` label of warmjail_requests_total for an answer to /execute.
std::string OutcomeLabel(const HttpResponse& response) {
  return response.error_type.empty() ? "ok" : response.error_type;
}

// Standard Server-Timing: the child's set-up stages and the whole sandbox.
// The stages' names and figures were checked by the document's reader
// (src/document.h): short lower-case words and finite durations.
std::string ServerTiming(const SandboxResult& result) {
  std::string out;
  char item[96];
  for (const Stage& stage : result.stages) {
    std::snprintf(item, sizeof item, "%s;dur=%.3f, ", stage.name.c_str(), stage.ms);
    out += item;
  }
  std::snprintf(item, sizeof item, "sandbox;dur=%.3f", result.duration_ms);
  return out + item;
}
}  // namespace

HttpResponse FromJson(const JsonResponse& json) {
  HttpResponse out;
  out.status = json.status;
  out.body = SerializeResponse(json);
  out.headers = json.headers;
  if (json.body.contains("error_type")) out.error_type = json.body["error_type"].get<std::string>();
  return out;
}

HttpResponse JsonError(int status, const std::string& type, const std::string& message) {
  return FromJson(ErrorResponse(ApiError{status, type, message}));
}

Service::Service(const Config& config, ZygoteClient* zygote, std::unique_ptr<jail::CgroupManager> cgroups,
                 std::string cgroup_note)
    : config_(config),
      zygote_(zygote),
      cgroups_(std::move(cgroups)),
      cgroup_note_(std::move(cgroup_note)),
      admission_(config.workers, config.queue),
      sandbox_(zygote, &metrics_) {}

HttpResponse Service::Execute(const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  HttpResponse response;
  Finishing done;
  auto parsed = ParseExecuteRequest(request.body, config_.limits);
  if (auto* error = std::get_if<ApiError>(&parsed)) {
    response = FromJson(ErrorResponse(*error));
  } else if (!zygote_->Ready()) {
    response = JsonError(503, "unavailable", "Sandbox unavailable: the sandbox zygote is restarting; retry shortly");
    response.headers.emplace_back("Retry-After", "1");
  } else {
    const ExecuteRequest& req = std::get<ExecuteRequest>(parsed);
    std::optional<Admission::Slot> slot = admission_.Acquire();
    if (!slot) {
      response = JsonError(429, "overloaded",
                           "Too many requests: " + std::to_string(config_.workers) + " sandboxes busy and " +
                               std::to_string(config_.queue) + " requests waiting; retry later");
      response.headers.emplace_back("Retry-After", "1");
    } else {
      EffectiveLimits limits = Clamp(config_.limits, req.timeout_s, req.memory_mb);
      SandboxResult result = sandbox_.Run(req, limits, &done.job);
      done.slot = std::move(slot);
      response = FromJson(ToResponse(result));
      response.headers.emplace_back("Server-Timing", ServerTiming(result));
      if (result.outcome == Outcome::kUnavailable) response.headers.emplace_back("Retry-After", "1");
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.RecordRequest(OutcomeLabel(response), response.status, seconds);
  // Never the script or its output: ids, outcome, sizes and costs only.
  done.log = {{"request_id", request.request_id}, {"status", response.status},
              {"error_type", response.error_type}, {"duration_ms", std::round(seconds * 1e6) / 1000},
              {"script_bytes", request.body.size()}};
  reaper_.Finish(std::move(done));
  return response;
}

std::vector<jail::LayerReport> Service::Layers() const {
  std::vector<jail::LayerReport> layers = zygote_->Report().layers;
  // Memory is always limited: by a cgroup where the host delegates one, else
  // by RLIMIT_AS above the zygote's footprint (docs/API.md, Limits).
  layers.push_back(jail::MemoryAccountingReport(cgroups_.get(), cgroup_note_));
  return layers;
}

nlohmann::json LayersJson(const std::vector<jail::LayerReport>& layers, bool details) {
  nlohmann::json out = nlohmann::json::object();
  for (const jail::LayerReport& layer : layers) {
    nlohmann::json& entry = out[jail::LayerName(layer.layer)];
    entry["active"] = layer.active;
    if (!details) continue;
    entry["detail"] = layer.detail;
    if (!layer.mechanism.empty()) entry["mechanism"] = layer.mechanism;
  }
  return out;
}

bool AnyMissing(const std::vector<jail::LayerReport>& layers) {
  return std::any_of(layers.begin(), layers.end(), [](const jail::LayerReport& l) { return !l.active; });
}

HttpResponse Service::Health(bool full) const {
  bool ready = zygote_->Ready();
  HttpResponse out;
  out.status = ready ? 200 : 503;
  std::vector<jail::LayerReport> layers = Layers();
  if (!full) {
    nlohmann::json body = {{"status", ready ? "healthy" : "unhealthy"},
                           {"isolation", LayersJson(layers, false)},
                           {"degraded", AnyMissing(layers)}};
    if (!ready) body["reason"] = kNotReadyReason;
    out.body = DumpBody(body);
    return out;
  }
  nlohmann::json limits = {
      {"timeout_s", config_.limits.timeout_s},       {"cpu_time_s", config_.limits.cpu_time_s},
      {"memory_mb", config_.limits.memory_mb},       {"max_procs", config_.limits.max_procs},
      {"tmp_mb", config_.limits.tmp_mb},             {"max_output_bytes", config_.limits.max_output_bytes},
      {"max_result_bytes", config_.limits.max_result_bytes}, {"max_body_bytes", config_.max_body_bytes},
      {"workers", config_.workers},                  {"queue", config_.queue}};
  nlohmann::json body = {
      {"status", ready ? "healthy" : "unhealthy"},
      {"mode", embed::ModeName(config_.mode)},
      {"isolation", LayersJson(layers, true)},
      {"degraded", AnyMissing(layers)},
      {"limits", limits},
      {"sandboxes_running", admission_.Running()},
      {"queue_depth", admission_.Waiting()},
      {"spares", config_.spares.value_or(0)},
      {"zygote_restarts", zygote_->Restarts()},
      {"zygote_recycles", zygote_->Recycles()},
      {"version", WARMJAIL_VERSION},
  };
  body["runtime"] = zygote_->Report().versions;
  if (!ready) body["reason"] = kNotReadyReason;
  out.body = DumpBody(body);
  return out;
}

HttpResponse Service::Healthz() const {
  HttpResponse out;
  out.status = zygote_->Ready() ? 200 : 503;
  out.body = out.status == 200 ? R"({"status":"ok"})" : R"({"status":"unavailable"})";
  return out;
}

HttpResponse Service::Metrics() const {
  HttpResponse out;
  out.content_type = "text/plain; version=0.0.4";
  out.body = metrics_.Render({
      {"warmjail_queue_depth", {"Requests waiting for a sandbox.", admission_.Waiting()}},
      {"warmjail_sandboxes_running", {"Sandboxes running now.", admission_.Running()}},
      {"warmjail_sandbox_slots", {"Sandboxes that may run at once.", config_.workers}},
      {"warmjail_zygote_ready", {"1 when a zygote is ready to fork sandboxes.", zygote_->Ready() ? 1 : 0}},
      {"warmjail_zygote_restarts_total", {"Zygotes restarted after dying.", static_cast<double>(zygote_->Restarts())}},
      {"warmjail_zygote_recycles_total", {"Zygotes replaced by a fresh one (--recycle-*).", static_cast<double>(zygote_->Recycles())}},
  });
  return out;
}

void Service::CountRefused(const HttpResponse& response) {
  metrics_.CountRequest(OutcomeLabel(response), response.status);
}

std::optional<HttpResponse> Service::Authorize(const HttpRequest& request) const {
  if (config_.api_token.empty()) return std::nullopt;
  auto it = request.headers.find("authorization");
  std::string given = it == request.headers.end() ? "" : it->second;
  // "<scheme> <token>": the scheme is case-insensitive (RFC 9110, 11.1), the
  // token is not.
  size_t space = given.find(' ');
  bool bearer = space != std::string::npos && std::equal(given.begin(), given.begin() + space, kBearer.begin(),
                                                         kBearer.end(), [](char a, char b) {
                                                           return std::tolower(static_cast<unsigned char>(a)) ==
                                                                  std::tolower(static_cast<unsigned char>(b));
                                                         });
  size_t start = bearer ? given.find_first_not_of(' ', space) : std::string::npos;
  std::string token = start == std::string::npos ? "" : given.substr(start);
  const std::string& expected = config_.api_token;
  // Constant time in the token's content: every byte is compared.
  unsigned char diff = !bearer || token.size() != expected.size();
  for (size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i] ^ (i < token.size() ? token[i] : 0));
  if (diff == 0) return std::nullopt;
  HttpResponse out = JsonError(401, "unauthorized", "Missing or invalid API token (Authorization: Bearer <token>)");
  out.headers.emplace_back("WWW-Authenticate", "Bearer");
  return out;
}

}  // namespace wj
