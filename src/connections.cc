#include "src/connections.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

// cpp-httplib (a shared library) accepts connections with accept(); this
// definition in the executable takes its place, so every accepted connection
// is known to the guard before httplib queues it. It is the same system call.
extern "C" int accept(int sockfd, struct sockaddr* addr, socklen_t* addrlen) {
  int fd = static_cast<int>(::syscall(SYS_accept4, sockfd, addr, addrlen, 0));
  if (fd >= 0) wj::ConnectionGuard::Get().Accepted(fd);
  return fd;
}

namespace wj {

namespace {
thread_local int t_connection = -1;  // the watch fd of the connection this thread serves
}  // namespace

ConnectionGuard& ConnectionGuard::Get() {
  static ConnectionGuard guard;
  return guard;
}

void ConnectionGuard::Accepted(int fd) {
  int watch = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  std::lock_guard<std::mutex> lock(mu_);
  if (last_accepted_ >= 0) ::close(last_accepted_);  // never queued (cannot happen with httplib)
  last_accepted_ = watch;
}

int ConnectionGuard::TakeAccepted() {
  std::lock_guard<std::mutex> lock(mu_);
  int watch = last_accepted_;
  last_accepted_ = -1;
  return watch;
}

void ConnectionGuard::Begin(int watch) {
  t_connection = watch;
  if (watch < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  connections_[watch] = Connection{watch, std::chrono::steady_clock::now(), false, false};
}

void ConnectionGuard::End(int watch) {
  t_connection = -1;
  if (watch < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  connections_.erase(watch);
  ::close(watch);
}

void ConnectionGuard::RequestRead() {
  if (t_connection < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(t_connection);
  if (it != connections_.end()) it->second.in_handler = true;
}

void ConnectionGuard::ResponseDone() {
  if (t_connection < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = connections_.find(t_connection);
  if (it != connections_.end()) {
    it->second.in_handler = false;
    it->second.reading_since = std::chrono::steady_clock::now();
  }
}

void ConnectionGuard::Sweep(std::chrono::seconds deadline) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [watch, c] : connections_) {
    if (c.in_handler || c.cut || now - c.reading_since < deadline) continue;
    // Shutting the socket down wakes httplib's read with an end of stream;
    // httplib then closes its descriptor as for any finished connection.
    ::shutdown(watch, SHUT_RDWR);
    c.cut = true;
  }
}

// Threads are started as connections arrive, up to a cap, and kept for
// reuse; past the cap, connections wait in order.
class GuardedTaskQueue : public httplib::TaskQueue {
 public:
  GuardedTaskQueue(ConnectionGuard* guard, size_t max_threads, std::chrono::seconds deadline)
      : guard_(guard), max_threads_(max_threads), watchdog_([this, deadline] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!stopping_) {
            cv_.wait_for(lock, std::chrono::seconds(1));
            lock.unlock();
            guard_->Sweep(deadline);
            lock.lock();
          }
        }) {}

  ~GuardedTaskQueue() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    int watch = guard_->TakeAccepted();
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back([this, watch, fn = std::move(fn)] {
      guard_->Begin(watch);
      fn();
      guard_->End(watch);
    });
    // Every queued connection gets a thread of its own while the cap allows:
    // an idle one must never hold up the next.
    if (tasks_.size() > idle_ && threads_.size() < max_threads_) threads_.emplace_back(&GuardedTaskQueue::Work, this);
    cv_.notify_all();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      cv_.notify_all();
    }
    for (std::thread& t : threads_) t.join();
    watchdog_.join();
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      --idle_;
      if (tasks_.empty()) return;  // stopping, and every queued connection served
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  ConnectionGuard* guard_;
  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
  std::thread watchdog_;
};

httplib::TaskQueue* ConnectionGuard::NewTaskQueue(size_t max_threads, std::chrono::seconds read_deadline) {
  return new GuardedTaskQueue(this, max_threads, read_deadline);
}

}  // namespace wj
