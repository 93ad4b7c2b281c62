// Keeps idle, slow and greedy clients from starving the others, /health and
// /healthz above all. Everything here happens before a request is
// authenticated, so every client is taken to be hostile:
//
// - a thread per connection, up to --max-connections, each connection's
//   request head due within --header-timeout and the whole request within
//   --request-read-timeout (a watchdog shuts down a late one: slowloris sends
//   each byte in time for the per-read timeout but never completes);
// - at most --max-connections-per-client of those threads for one address;
// - every connection past either cap goes to the health lane: one thread
//   that polls them all, gives each kHealthLaneDeadline to send its request
//   head, answers /health and /healthz, and refuses anything else (429 for a
//   client over its own cap, 503 at the server's). Nothing waits in a queue
//   behind idle connections, which is what starved health checks before.
#pragma once
#include <httplib.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "src/service.h"

namespace wj {

class HealthLane;

struct ConnectionLimits {
  size_t max_connections;
  size_t per_client;
  std::chrono::seconds header_deadline;
  std::chrono::seconds request_deadline;
};

// httplib's timeout for a single read: a second past the request's own
// deadline, so that a slow client is always cut by the watchdog's deadlines
// (--header-timeout, --request-read-timeout), which it answers 408, and
// never by a read timeout of httplib's own.
inline std::chrono::seconds PerReadTimeout(const ConnectionLimits& limits) {
  return limits.request_deadline + std::chrono::seconds(1);
}

// How long a health-lane connection has to send its request head, how large
// that head may be, and how many connections the lane holds (the oldest is
// dropped past that): a probe's request arrives at once and is a few hundred
// bytes, so it is answered long before an idle connection is let go.
inline constexpr std::chrono::seconds kHealthLaneDeadline{2};
inline constexpr size_t kHealthLaneHeadBytes = 8192;
inline constexpr size_t kHealthLaneConnections = 1024;

// Why a connection is in the health lane.
enum class LaneReason { kServerFull, kClientFull };

// A request head as the health lane read it.
struct LaneRequest {
  HttpRequest request;  // method, path (no query) and headers; no body
  LaneReason reason;
  int malformed = 0;    // 400 (not HTTP) or 431 (head too large): nothing else is set
};

class GuardedServer : public httplib::Server {
 public:
  explicit GuardedServer(const ConnectionLimits& limits);
  ~GuardedServer() override;

  // In the handler: the request has been read; no deadline while it is
  // handled and answered (httplib's write timeout bounds the answer).
  static void RequestRead();

  // Which deadline the watchdog cut this thread's connection at: 0 when it
  // was not cut, else the deadline's seconds, `head` set when it was the
  // header deadline. For the error handler, whose 400 is then a 408.
  struct Cut {
    std::chrono::seconds after{0};
    bool head = false;
  };
  static Cut DeadlineCut();

  // Answers a request in the health lane (set before listening).
  std::function<HttpResponse(const LaneRequest&)> lane_handler;

 private:
  friend class ConnectionQueue;
  enum class Phase { kHead, kBody, kHandler };
  struct Connection {
    Phase phase = Phase::kHead;
    std::chrono::steady_clock::time_point since;
    bool cut = false;  // at the deadline of `phase`
  };

  bool process_and_close_socket(socket_t sock) override;
  void Serve(socket_t sock, const std::string& peer, int peer_port);
  void SetPhase(socket_t sock, Phase phase);
  void Sweep();

  const ConnectionLimits limits_;
  HealthLane* lane_ = nullptr;  // while listening
  std::mutex mu_;
  std::map<socket_t, Connection> connections_;  // served by a thread; each stays open while listed
  std::map<std::string, size_t> per_client_;    // those, by peer address
};

}  // namespace wj
