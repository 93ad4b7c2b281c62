#include "src/connections.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <thread>
#include <vector>

namespace wj {

namespace {
// The connection this thread serves, and the server it belongs to: the
// handler learns them without httplib passing anything through.
thread_local socket_t t_socket = INVALID_SOCKET;
thread_local GuardedServer* t_server = nullptr;
// Set on the health lane's thread: a connection httplib hands it is past the
// server's cap.
thread_local bool t_in_lane = false;
// The response just written said "Connection: close" (httplib says so after
// every error) and the connection must end there. httplib itself goes on
// reading after a refused head: the rest of a header flood would be parsed
// as request after request.
thread_local bool t_close_after = false;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The request line and headers of a complete head (it ends with an empty
// line); false when it is not HTTP.
bool ParseHead(const std::string& head, HttpRequest* out) {
  size_t end = head.find("\r\n");
  std::string line = head.substr(0, end);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string::npos || line.compare(sp2 + 1, 5, "HTTP/") != 0) return false;
  out->method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  out->path = target.substr(0, target.find('?'));
  for (size_t pos = end + 2; pos < head.size();) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string::npos || next == pos) break;
    line = head.substr(pos, next - pos);
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) return false;
    out->headers.emplace(Lower(line.substr(0, colon)), Trim(line.substr(colon + 1)));
    pos = next + 2;
  }
  return true;
}

std::string Render(const HttpResponse& out, bool with_body) {
  std::string text = "HTTP/1.1 " + std::to_string(out.status) + " " + httplib::status_message(out.status) + "\r\n";
  text += "Content-Type: " + out.content_type + "\r\n";
  text += "Content-Length: " + std::to_string(out.body.size()) + "\r\n";
  for (const auto& [name, value] : out.headers) text += name + ": " + value + "\r\n";
  text += "Connection: close\r\n\r\n";
  if (with_body) text += out.body;
  return text;
}
}  // namespace

// One thread that holds every connection past the caps and answers the
// health paths on them (see connections.h). It never blocks on a client:
// sockets are read when poll() says so, and an answer (a few hundred bytes)
// is one non-blocking send into an empty socket buffer.
class HealthLane {
 public:
  HealthLane(GuardedServer* server, std::function<void()> tick)
      : server_(server), tick_(std::move(tick)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
        thread_([this] { Run(); }) {}

  ~HealthLane() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    Wake();
    thread_.join();
    if (wake_ >= 0) ::close(wake_);
  }

  // A connection httplib accepted past the server's cap: its task runs on
  // the lane's thread, where process_and_close_socket() adopts it.
  void Submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    Wake();
  }

  void Adopt(socket_t sock, LaneReason reason) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      adopted_.emplace_back(sock, reason);
    }
    Wake();
  }

 private:
  struct Pending {
    LaneReason reason;
    std::chrono::steady_clock::time_point since;
    std::string head;
    bool answered = false;  // then only read until the client closes, so it sees the answer
  };

  void Wake() {
    uint64_t one = 1;
    if (wake_ >= 0) (void)!::write(wake_, &one, sizeof one);
  }

  void Close(std::map<socket_t, Pending>::iterator it) {
    ::shutdown(it->first, SHUT_RDWR);
    ::close(it->first);
    conns_.erase(it);
  }

  void Answer(socket_t sock, Pending& c, int malformed) {
    LaneRequest request{{}, c.reason, malformed};
    if (!malformed && !ParseHead(c.head, &request.request)) request.malformed = 400;
    HttpResponse out = server_->lane_handler ? server_->lane_handler(request)
                                             : JsonError(503, "unavailable", "Server at its connection limit");
    std::string text = Render(out, request.request.method != "HEAD");
    (void)::send(sock, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(sock, SHUT_WR);
    c.answered = true;
    c.since = std::chrono::steady_clock::now();
    c.head.clear();
    c.head.shrink_to_fit();
  }

  // Reads what the client sent; false when the connection is finished.
  bool Read(socket_t sock, Pending& c) {
    char buf[4096];
    ssize_t n = ::recv(sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (n == 0) return false;
    if (c.answered) return true;  // a body nobody reads
    size_t take = std::min(static_cast<size_t>(n), kHealthLaneHeadBytes - c.head.size());
    c.head.append(buf, take);
    if (c.head.find("\r\n\r\n") != std::string::npos) Answer(sock, c, 0);
    else if (c.head.size() >= kHealthLaneHeadBytes) Answer(sock, c, 431);
    return true;
  }

  void Run() {
    t_in_lane = true;
    std::vector<pollfd> fds;
    for (;;) {
      std::vector<std::function<void()>> tasks;
      std::vector<std::pair<socket_t, LaneReason>> adopted;
      bool stopping;
      {
        std::lock_guard<std::mutex> lock(mu_);
        tasks.swap(tasks_);
        stopping = stopping_;
      }
      for (auto& task : tasks) task();  // each adopts its socket, or closes it when stopping
      {
        std::lock_guard<std::mutex> lock(mu_);
        adopted.swap(adopted_);
      }
      auto now = std::chrono::steady_clock::now();
      for (auto [sock, reason] : adopted) conns_[sock] = Pending{reason, now, {}, false};
      if (stopping) break;
      // Past the lane's size the oldest goes: a probe, being new, stays.
      while (conns_.size() > kHealthLaneConnections)
        Close(std::min_element(conns_.begin(), conns_.end(),
                               [](const auto& a, const auto& b) { return a.second.since < b.second.since; }));

      fds.clear();
      fds.push_back({wake_, POLLIN, 0});
      for (const auto& [sock, c] : conns_) fds.push_back({sock, POLLIN, 0});
      ::poll(fds.data(), fds.size(), 250);
      if (fds[0].revents & POLLIN) {
        uint64_t count;
        (void)!::read(wake_, &count, sizeof count);
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        auto it = conns_.find(fds[i].fd);
        if (it != conns_.end() && !Read(it->first, it->second)) Close(it);
      }
      now = std::chrono::steady_clock::now();
      for (auto it = conns_.begin(); it != conns_.end();) {
        auto next = std::next(it);
        if (now - it->second.since >= kHealthLaneDeadline) Close(it);
        it = next;
      }
      tick_();
    }
    while (!conns_.empty()) Close(conns_.begin());
  }

  GuardedServer* server_;
  std::function<void()> tick_;
  int wake_;
  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;
  std::vector<std::pair<socket_t, LaneReason>> adopted_;
  bool stopping_ = false;
  std::map<socket_t, Pending> conns_;  // the lane thread's own
  std::thread thread_;                 // last: it starts once everything above exists
};

void GuardedServer::RequestRead() {
  if (t_server) t_server->SetPhase(t_socket, Phase::kHandler);
}

GuardedServer::Cut GuardedServer::DeadlineCut() {
  if (!t_server) return {};
  std::lock_guard<std::mutex> lock(t_server->mu_);
  auto it = t_server->connections_.find(t_socket);
  if (it == t_server->connections_.end() || !it->second.cut) return {};
  bool head = it->second.phase == Phase::kHead;
  return {head ? t_server->limits_.header_deadline : t_server->limits_.request_deadline, head};
}

void GuardedServer::SetPhase(socket_t sock, Phase phase) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(sock);
  if (it == connections_.end()) return;
  // The head and body deadlines both run from the request's start.
  if (phase == Phase::kHead) it->second.since = std::chrono::steady_clock::now();
  it->second.phase = phase;
}

void GuardedServer::Sweep() {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [sock, c] : connections_) {
    if (c.cut || c.phase == Phase::kHandler) continue;
    auto deadline = c.phase == Phase::kHead ? limits_.header_deadline : limits_.request_deadline;
    if (now - c.since < deadline) continue;
    // Shutting the reading side down wakes httplib's read with an end of
    // stream; the error handler answers 408 on the side still open (a head
    // cut before its request line is complete gets no answer), and the
    // connection's thread closes it as for any finished connection. The
    // socket is still open: it leaves the map before it is closed.
    ::shutdown(sock, SHUT_RD);
    c.cut = true;
  }
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  if (t_in_lane) {
    if (lane_) lane_->Adopt(sock, LaneReason::kServerFull);
    else httplib::detail::close_socket(sock);
    return true;
  }
  std::string peer;
  int peer_port = 0;
  httplib::detail::get_remote_ip_and_port(sock, peer, peer_port);
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t& count = per_client_[peer];
    if (count >= limits_.per_client) {
      lane_->Adopt(sock, LaneReason::kClientFull);
      return true;
    }
    ++count;
    connections_[sock] = Connection{Phase::kHead, std::chrono::steady_clock::now(), false};
  }
  Serve(sock, peer, peer_port);
  {
    std::lock_guard<std::mutex> lock(mu_);
    connections_.erase(sock);
    auto it = per_client_.find(peer);
    if (--it->second == 0) per_client_.erase(it);
  }
  httplib::detail::drain_and_close_socket(sock);
  return true;
}

// httplib's own loop (Server::process_and_close_socket), with the request's
// phases reported to the watchdog: the head starts when the first byte is
// there (httplib's keep-alive wait bounds the time before it), its end
// switches to the request deadline, and the handler has none.
void GuardedServer::Serve(socket_t sock, const std::string& peer, int peer_port) {
  std::string local;
  int local_port = 0;
  httplib::detail::get_local_ip_and_port(sock, local, local_port);
  t_socket = sock;
  t_server = this;
  httplib::detail::process_server_socket(
      svr_sock_, sock, keep_alive_max_count_, keep_alive_timeout_sec_, read_timeout_sec_, read_timeout_usec_,
      write_timeout_sec_, write_timeout_usec_,
      [&](httplib::Stream& strm, bool close_connection, bool& connection_closed) {
        SetPhase(sock, Phase::kHead);
        t_close_after = false;
        bool ok = process_request(strm, peer, peer_port, local, local_port, close_connection, connection_closed,
                                  [this, sock](httplib::Request&) { SetPhase(sock, Phase::kBody); });
        if (t_close_after) connection_closed = true;
        return ok;
      });
  t_socket = INVALID_SOCKET;
  t_server = nullptr;
}

// httplib's task queue, replaced: a thread per connection up to the cap,
// kept for reuse; past it, the health lane. Nothing waits in a queue.
class ConnectionQueue : public httplib::TaskQueue {
 public:
  explicit ConnectionQueue(GuardedServer* server)
      : server_(server), max_threads_(server->limits_.max_connections), lane_(server, [server] { server->Sweep(); }) {
    server_->lane_ = &lane_;
  }

  ~ConnectionQueue() override { shutdown(); }

  bool enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return false;
      if (idle_ > tasks_.size() || threads_.size() < max_threads_) {
        tasks_.push_back(std::move(fn));
        if (idle_ < tasks_.size()) threads_.emplace_back(&ConnectionQueue::Work, this);
        cv_.notify_one();
        return true;
      }
    }
    lane_.Submit(std::move(fn));
    return true;
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      cv_.notify_all();
    }
    for (std::thread& t : threads_) t.join();
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      --idle_;
      if (tasks_.empty()) return;  // stopping, and every accepted connection served
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  GuardedServer* server_;
  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
  HealthLane lane_;  // last: destroyed first, after shutdown() joined every connection thread
};

GuardedServer::GuardedServer(const ConnectionLimits& limits) : limits_(limits) {
  set_read_timeout(PerReadTimeout(limits));
  new_task_queue = [this] { return new ConnectionQueue(this); };
  set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.get_header_value("Connection") == "close") t_close_after = true;
  });
}

GuardedServer::~GuardedServer() = default;

}  // namespace wj
