#include "src/http_server.h"

#include <httplib.h>

#include <chrono>
#include <random>

#include "src/connections.h"
#include "src/log.h"

namespace wj {

namespace embed {
extern const std::string_view kOpenApiJson;
}

namespace {

// docs/openapi.yaml as JSON, compiled in (see CMakeLists.txt).
HttpResponse OpenApi() {
  HttpResponse out;
  out.body = std::string(embed::kOpenApiJson);
  return out;
}

struct Route {
  const char* method;
  const char* path;
  HttpResponse (*handle)(Service*, const HttpRequest&);
  bool needs_token;
};

// Every path the service answers, in one place.
const Route kRoutes[] = {
    {"POST", "/execute", [](Service* s, const HttpRequest& r) { return s->Execute(r); }, true},
    {"GET",  "/health",  [](Service* s, const HttpRequest&) { return s->Health(); }, false},
    {"GET",  "/healthz", [](Service* s, const HttpRequest&) { return s->Healthz(); }, false},
    {"GET",  "/metrics", [](Service* s, const HttpRequest&) { return s->Metrics(); }, false},
    {"GET",  "/openapi.json", [](Service*, const HttpRequest&) { return OpenApi(); }, false},
};

std::string NewRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

// A client's id is echoed only when it is short and printable.
std::string RequestIdFor(const httplib::Request& req) {
  std::string id = req.get_header_value("X-Request-Id");
  if (id.empty() || id.size() > 128) return NewRequestId();
  for (char c : id)
    if (c < 0x21 || c > 0x7e) return NewRequestId();
  return id;
}

void Write(const HttpResponse& in, const std::string& request_id, httplib::Response& out) {
  out.status = in.status;
  out.set_content(in.body, in.content_type.c_str());
  for (const auto& [name, value] : in.headers) out.set_header(name.c_str(), value);
  out.set_header("X-Request-Id", request_id);
}

}  // namespace

HttpResponse HttpServer::Dispatch(Service* service, const HttpRequest& request) {
  const Route* path_match = nullptr;
  for (const Route& route : kRoutes) {
    if (request.path != route.path) continue;
    path_match = &route;
    if (request.method != route.method && !(request.method == "HEAD" && std::string(route.method) == "GET")) continue;
    if (route.needs_token)
      if (auto denied = service->Authorize(request)) return *denied;
    return route.handle(service, request);
  }
  if (path_match) {
    HttpResponse out = JsonError(405, "method_not_allowed",
                                 "Method " + request.method + " is not allowed on " + request.path +
                                     "; use " + path_match->method);
    out.headers.emplace_back("Allow", path_match->method);
    return out;
  }
  return JsonError(404, "not_found", "No such path: " + request.path);
}

HttpServer::HttpServer(Service* service, const Config& config)
    : service_(service), config_(config), server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() = default;

bool HttpServer::Listen(std::string* error) {
  httplib::Server& svr = *server_;
  const size_t max_connections = config_.max_connections;
  const std::chrono::seconds read_deadline(config_.request_read_timeout_s);
  svr.new_task_queue = [max_connections, read_deadline] {
    return ConnectionGuard::Get().NewTaskQueue(max_connections, read_deadline);
  };
  svr.set_payload_max_length(config_.max_body_bytes);
  svr.set_read_timeout(10, 0);
  svr.set_write_timeout(10, 0);
  svr.set_keep_alive_timeout(5);
  svr.set_keep_alive_max_count(1000);
  // Headers and body go out in separate writes; with Nagle's algorithm the
  // second waits for the client's delayed ACK (about 40 ms) on keep-alive.
  svr.set_tcp_nodelay(true);

  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    HttpRequest request{req.method, req.path, req.body, {}, RequestIdFor(req)};
    for (const auto& [name, value] : req.headers) {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers.emplace(lower, value);
    }
    HttpResponse response;
    ConnectionGuard::Get().RequestRead();
    try {
      response = Dispatch(service_, request);
    } catch (const std::exception& e) {
      LogEvent("internal_error", {{"request_id", request.request_id}, {"what", e.what()}});
      response = JsonError(500, "internal", "Internal server error");
    }
    Write(response, request.request_id, res);
    ConnectionGuard::Get().ResponseDone();
  };
  for (const char* pattern : {".*"}) {
    svr.Get(pattern, handler);
    svr.Post(pattern, handler);
    svr.Put(pattern, handler);
    svr.Delete(pattern, handler);
    svr.Patch(pattern, handler);
    svr.Options(pattern, handler);
  }
  // Errors httplib produces itself (413 for an oversized body, 400 for a
  // malformed request) get the same JSON shape as ours.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                      httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string id = RequestIdFor(req);
    HttpResponse out;
    if (res.status == 413) {
      out = JsonError(413, "request_too_large",
                      "Request body is larger than the cap of " + std::to_string(config_.max_body_bytes) + " bytes");
    } else if (res.status == 404) {
      out = JsonError(404, "not_found", "No such path: " + req.path);
    } else {
      out = JsonError(res.status, res.status < 500 ? "invalid_request" : "internal",
                      res.status < 500 ? "Malformed HTTP request" : "Internal server error");
    }
    Write(out, id, res);
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
    Write(JsonError(500, "internal", "Internal server error"), RequestIdFor(req), res);
  });

  if (!svr.bind_to_port(config_.host.c_str(), config_.port)) {
    *error = "cannot listen on " + config_.host + ":" + std::to_string(config_.port);
    return false;
  }
  LogEvent("listening", {{"host", config_.host}, {"port", config_.port}});
  return svr.listen_after_bind();
}

void HttpServer::Stop() { server_->stop(); }

}  // namespace wj
