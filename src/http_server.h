// cpp-httplib behind a small interface: one route table, one dispatcher,
// JSON for every error httplib itself produces, no exception escaping.
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "src/config.h"
#include "src/service.h"

namespace wj {

class GuardedServer;
struct LaneRequest;

class HttpServer {
 public:
  HttpServer(Service* service, const Config& config);
  ~HttpServer();
  // Blocks until Stop(). False when the port cannot be bound.
  bool Listen(std::string* error);
  // Stops accepting; requests in flight finish first.
  void Stop();
  // The route table, transport-free: both the regular handler and the
  // connection-limit lane (for /health and /healthz) answer through it.
  static HttpResponse Dispatch(Service* service, const HttpRequest& request);
  // The path whose answers /metrics counts.
  static constexpr const char* kExecutePath = "/execute";

 private:
  HttpResponse AnswerInLane(const LaneRequest& lane);

  Service* service_;
  const Config& config_;
  std::unique_ptr<GuardedServer> server_;
  std::atomic<bool> stop_requested_{false};
};

}  // namespace wj
