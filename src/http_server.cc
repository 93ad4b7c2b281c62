#include "src/http_server.h"

#include <httplib.h>

#include <sys/socket.h>
#include <cerrno>
#include <chrono>
#include <cstring>
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
    {"POST", HttpServer::kExecutePath, [](Service* s, const HttpRequest& r) { return s->Execute(r); }, true},
    // Open to all; the host's details only with the token (when one is set).
    {"GET",  "/health",  [](Service* s, const HttpRequest& r) { return s->Health(!s->Authorize(r)); }, false},
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
std::string RequestIdFor(const std::string& id) {
  if (id.empty() || id.size() > 128) return NewRequestId();
  for (char c : id)
    if (c < 0x21 || c > 0x7e) return NewRequestId();
  return id;
}

std::string RequestIdFor(const httplib::Request& req) { return RequestIdFor(req.get_header_value("X-Request-Id")); }

// Why httplib refused a request, for the error handler: the error logger
// runs on the connection's thread just before it, with the same request.
thread_local httplib::Error t_last_error = httplib::Error::Success;
thread_local const httplib::Request* t_last_error_request = nullptr;

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
      if (auto denied = service->Authorize(request)) {
        if (request.path == kExecutePath) service->CountRefused(*denied);
        return *denied;
      }
    return route.handle(service, request);
  }
  if (path_match) {
    // A GET route answers HEAD as well.
    std::string allow = path_match->method;
    if (allow == "GET") allow += ", HEAD";
    HttpResponse out = JsonError(405, "method_not_allowed",
                                 "Method " + request.method + " is not allowed on " + request.path + "; use " + allow);
    out.headers.emplace_back("Allow", allow);
    if (request.path == kExecutePath) service->CountRefused(out);
    return out;
  }
  return JsonError(404, "not_found", "No such path: " + request.path);
}

HttpServer::HttpServer(Service* service, const Config& config)
    : service_(service),
      config_(config),
      server_(std::make_unique<GuardedServer>(ConnectionLimits{
          config.max_connections, config.max_connections_per_client,
          std::chrono::seconds(config.header_timeout_s), std::chrono::seconds(config.request_read_timeout_s)})) {}

HttpServer::~HttpServer() = default;

bool HttpServer::Listen(std::string* error) {
  GuardedServer& svr = *server_;
  svr.lane_handler = [this](const LaneRequest& lane) { return AnswerInLane(lane); };
  // Every framing (Content-Length, chunked, none) stops reading at the cap.
  svr.set_payload_max_length(config_.max_body_bytes);
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
    GuardedServer::RequestRead();
    try {
      response = Dispatch(service_, request);
    } catch (const std::exception& e) {
      LogEvent("internal_error", {{"request_id", request.request_id}, {"what", e.what()}});
      response = JsonError(500, "internal", "Internal server error");
    }
    Write(response, request.request_id, res);
  };
  // Methods httplib parses but routes nowhere (TRACE, CONNECT, PRI) go to
  // the same handler before routing, which answers them 405 (or 404): no
  // route takes them, and their body is never read.
  // A body declared larger than the cap is refused from its head: no
  // "100 Continue" invites it, and none of it is read (the error handler
  // writes the 413).
  const uint64_t max_body = config_.max_body_bytes;
  auto declared_too_large = [max_body](const httplib::Request& req) {
    return req.has_header("Content-Length") && req.get_header_value_u64("Content-Length") > max_body;
  };
  svr.set_expect_100_continue_handler([declared_too_large](const httplib::Request& req, httplib::Response& res) {
    if (!declared_too_large(req)) return 100;
    res.status = 413;
    return 413;
  });
  svr.set_pre_routing_handler([handler, declared_too_large](const httplib::Request& req, httplib::Response& res) {
    if (declared_too_large(req)) {
      res.status = 413;
      return httplib::Server::HandlerResponse::Handled;
    }
    static const char* const kRouted[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    for (const char* method : kRouted)
      if (req.method == method) return httplib::Server::HandlerResponse::Unhandled;
    handler(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  for (const char* pattern : {".*"}) {
    svr.Get(pattern, handler);
    svr.Post(pattern, handler);
    svr.Put(pattern, handler);
    svr.Delete(pattern, handler);
    svr.Patch(pattern, handler);
    svr.Options(pattern, handler);
  }
  svr.set_error_logger([](const httplib::Error& error, const httplib::Request* req) {
    // A bad request line is logged twice: first why (the method or the
    // version), then InvalidRequestLine. The first says more.
    if (req && req == t_last_error_request && error == httplib::Error::InvalidRequestLine &&
        (t_last_error == httplib::Error::InvalidHTTPMethod || t_last_error == httplib::Error::InvalidHTTPVersion))
      return;
    t_last_error = error;
    t_last_error_request = req;
  });
  // Errors httplib produces itself (413 for an oversized body, 400 for a
  // malformed request or header) get the same JSON shape as ours.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                      httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string id = RequestIdFor(req);
    httplib::Error error = t_last_error_request == &req ? t_last_error : httplib::Error::Success;
    t_last_error_request = nullptr;
    HttpResponse out;
    GuardedServer::Cut cut = GuardedServer::DeadlineCut();
    if (res.status == 400 && cut.after.count() > 0) {
      out = JsonError(408, "invalid_request",
                      std::string(cut.head ? "Request head not received" : "Request not received whole") + " within " +
                          std::to_string(cut.after.count()) + " seconds");
    } else if (res.status == 400 && error == httplib::Error::InvalidHeaders) {
      // httplib stops at its caps (CPPHTTPLIB_HEADER_MAX_COUNT headers of
      // CPPHTTPLIB_HEADER_MAX_LENGTH bytes); the headers read so far tell
      // which: a full count is the flood, anything else a bad or long line.
      if (req.headers.size() >= CPPHTTPLIB_HEADER_MAX_COUNT)
        out = JsonError(431, "request_too_large",
                        "Request has more than " + std::to_string(CPPHTTPLIB_HEADER_MAX_COUNT) + " headers");
      else
        out = JsonError(400, "invalid_request",
                        "Malformed request header, or one longer than " +
                            std::to_string(CPPHTTPLIB_HEADER_MAX_LENGTH) + " bytes");
    } else if (res.status == 413) {
      out = JsonError(413, "request_too_large",
                      "Request body is larger than the cap of " + std::to_string(config_.max_body_bytes) + " bytes");
    } else if (res.status == 404) {
      out = JsonError(404, "not_found", "No such path: " + req.path);
    } else if (res.status == 414) {
      out = JsonError(414, "request_too_large",
                      "Request URI is longer than " + std::to_string(CPPHTTPLIB_REQUEST_URI_MAX_LENGTH) + " bytes");
    } else if (res.status == 415) {
      // A compressed body (gzip, deflate, br, zstd): none is decoded.
      out = JsonError(415, "invalid_request", "Content-Encoding is not supported: send the body uncompressed");
    } else if (res.status == 400 && error == httplib::Error::InvalidHTTPMethod) {
      out = JsonError(400, "invalid_request", "Unsupported HTTP method");
    } else if (res.status == 400 && error == httplib::Error::InvalidHTTPVersion) {
      out = JsonError(400, "invalid_request", "Unsupported HTTP version (HTTP/1.1 and HTTP/1.0 are served)");
    } else {
      out = JsonError(res.status, res.status < 500 ? "invalid_request" : "internal",
                      res.status < 500 ? "Malformed HTTP request" : "Internal server error");
    }
    if (req.path == kExecutePath) service_->CountRefused(out);
    Write(out, id, res);
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
    Write(JsonError(500, "internal", "Internal server error"), RequestIdFor(req), res);
  });

  // SO_REUSEADDR only: a successor binds at once over its predecessor's
  // TIME_WAIT connections, but never beside a server still listening.
  // (cpp-httplib's default is SO_REUSEPORT, which let a second warmjail share
  // the port and silently take part of the first one's connections.)
  svr.set_socket_options([](socket_t sock) {
    int one = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  });
  errno = 0;
  if (!svr.bind_to_port(config_.host.c_str(), config_.port)) {
    int err = errno;
    *error = "cannot listen on " + config_.host + ":" + std::to_string(config_.port);
    if (err != 0) *error += std::string(": ") + std::strerror(err);
    return false;
  }
  // A Stop() that came before the socket existed (SIGTERM while the zygote
  // warmed up) closed nothing: honour it now. One that races the accept
  // loop's start makes listen_after_bind() fail, which is a stop too.
  if (stop_requested_) return true;
  LogEvent("listening", {{"host", config_.host}, {"port", config_.port}});
  return svr.listen_after_bind() || stop_requested_;
}

// A connection past --max-connections or --max-connections-per-client:
// the health paths are answered as anywhere else, everything else refused
// without reading a body.
HttpResponse HttpServer::AnswerInLane(const LaneRequest& lane) {
  auto given = lane.request.headers.find("x-request-id");
  std::string id = RequestIdFor(given == lane.request.headers.end() ? "" : given->second);
  HttpResponse out;
  if (lane.malformed == 431) {
    out = JsonError(431, "request_too_large",
                    "Request head is larger than " + std::to_string(kHealthLaneHeadBytes) +
                        " bytes (the server is at its connection limit)");
  } else if (lane.malformed) {
    out = JsonError(400, "invalid_request", "Malformed HTTP request");
  } else if (lane.request.path == "/health" || lane.request.path == "/healthz") {
    HttpRequest request = lane.request;
    request.request_id = id;
    try {  // on the lane's own thread: nothing may escape it
      out = Dispatch(service_, request);
    } catch (const std::exception& e) {
      LogEvent("internal_error", {{"request_id", id}, {"what", e.what()}});
      out = JsonError(500, "internal", "Internal server error");
    }
  } else if (lane.reason == LaneReason::kClientFull) {
    out = JsonError(429, "overloaded",
                    "Too many connections from this address (at most " +
                        std::to_string(config_.max_connections_per_client) + "); retry later");
    out.headers.emplace_back("Retry-After", "1");
  } else {
    out = JsonError(503, "unavailable",
                    "Server at its connection limit (" + std::to_string(config_.max_connections) +
                        "); only /health and /healthz are answered; retry shortly");
    out.headers.emplace_back("Retry-After", "1");
  }
  if (lane.request.path == kExecutePath) service_->CountRefused(out);
  out.headers.emplace_back("X-Request-Id", id);
  return out;
}

void HttpServer::Stop() {
  stop_requested_ = true;
  server_->stop();
}

}  // namespace wj
