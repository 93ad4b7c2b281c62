// The HTTP handlers as transport-free functions from a request to a response:
// validation, admission, the sandbox, and the health and metrics views.
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jail/cgroups.h"
#include "jail/probe.h"
#include "src/admission.h"
#include "src/config.h"
#include "src/contract.h"
#include "src/metrics.h"
#include "src/reaper.h"
#include "src/sandbox.h"
#include "src/zygote_client.h"

namespace wj {

struct HttpRequest {
  std::string method;
  std::string path;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string request_id;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error_type;  // for metrics and the request log
};

HttpResponse FromJson(const JsonResponse& json);

// Layers as /health and the start-up log show them, keyed by their names
// (jail/layers.h). `details`: with what each consists of or why it failed,
// which names things of the host.
nlohmann::json LayersJson(const std::vector<jail::LayerReport>& layers, bool details);
bool AnyMissing(const std::vector<jail::LayerReport>& layers);
HttpResponse JsonError(int status, const std::string& type, const std::string& message);

class Service {
 public:
  Service(const Config& config, ZygoteClient* zygote, std::unique_ptr<jail::CgroupManager> cgroups,
          std::string cgroup_note);

  HttpResponse Execute(const HttpRequest& request);
  // `full`: for a caller with the token (or when none is configured); without
  // it, status and layer names only, nothing of the host (no paths, PIDs,
  // cgroup names, versions or limits).
  HttpResponse Health(bool full) const;
  HttpResponse Healthz() const;
  HttpResponse Metrics() const;
  // When an API token is configured: 401 unless the request carries it.
  std::optional<HttpResponse> Authorize(const HttpRequest& request) const;
  // An answer to a request for /execute that Execute() did not give (401,
  // 405, the HTTP layer's own refusals): counted in /metrics by its
  // error_type and status.
  void CountRefused(const HttpResponse& response);

  // The isolation layers as the zygote's probe found them, then how memory
  // is limited.
  std::vector<jail::LayerReport> Layers() const;

 private:
  const Config& config_;
  ZygoteClient* zygote_;
  std::unique_ptr<jail::CgroupManager> cgroups_;
  std::string cgroup_note_;
  Admission admission_;
  wj::Metrics metrics_;
  Sandbox sandbox_;
  Reaper reaper_;  // last: it finishes before the members it uses go away
};

}  // namespace wj
