// Keeps slow and idle clients from starving the others. cpp-httplib runs one
// thread per connection from its task queue; this replaces that queue with
// one that grows up to --max-connections threads (so a thousand idle
// connections do not hold every thread a health check needs), and a watchdog
// that cuts a connection off when a request has been arriving for longer
// than --request-read-timeout (slowloris: each byte in time for the
// per-read timeout, the request never complete).
#pragma once
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace wj {

class ConnectionGuard {
 public:
  static ConnectionGuard& Get();

  // Called by the accept() wrapper: the connection that is about to be
  // handed to the task queue.
  void Accepted(int fd);
  // In the handler: the request has been read (no deadline while it is
  // handled), and the response is done (the next request's clock starts).
  void RequestRead();
  void ResponseDone();

  // The task queue httplib uses; owns the watchdog thread.
  httplib::TaskQueue* NewTaskQueue(size_t max_threads, std::chrono::seconds read_deadline);

 private:
  friend class GuardedTaskQueue;
  struct Connection {
    int watch_fd = -1;  // a dup of the socket: ours, so its number is never reused under us
    std::chrono::steady_clock::time_point reading_since;
    bool in_handler = false;
    bool cut = false;
  };
  int TakeAccepted();
  void Begin(int id);
  void End(int id);
  void Sweep(std::chrono::seconds deadline);

  std::mutex mu_;
  int last_accepted_ = -1;
  std::map<int, Connection> connections_;  // by watch fd
};

}  // namespace wj
