// The server's side of the zygote: starts it (fork + exec of this binary, so
// the zygote shares nothing of the server's memory, threads or secrets),
// submits jobs over the control socket, routes the zygote's replies to the
// waiting requests, and restarts a zygote that died.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "embed/protocol.h"
#include "embed/zygote.h"
#include "util/unique_fd.h"

namespace wj {

// One request's child, as the zygote reports it. event_fd() becomes readable
// whenever the state changes.
class Job {
 public:
  explicit Job(uint64_t id, bool kill_group);
  uint64_t id() const { return id_; }
  int event_fd() const { return event_.get(); }
  void ClearEvent();

  struct State {
    bool started = false;
    bool exited = false;
    bool rejected = false;
    bool lost = false;  // the zygote died first
    pid_t pid = -1;
    int wait_status = 0;
    int64_t user_us = 0, system_us = 0, max_rss_kb = 0;
    bool oom_killed = false;
    uint64_t peak_memory_bytes = 0;
    std::string reason;
  };
  State Snapshot() const;
  bool Finished() const;  // exited, rejected or lost
  // SIGKILL to the child (and with it its PID namespace); without a PID
  // namespace, to its process group too.
  void Kill();
  // The request's wall-clock deadline, for a child still running when its
  // request is answered (a complete document before its exit): the Reaper
  // kills it then. Past() is false until one is set.
  void SetDeadline(std::chrono::steady_clock::time_point deadline);
  bool DeadlinePassed() const;

 private:
  friend class ZygoteClient;
  void Update(const std::function<void(State&)>& change);
  uint64_t id_;
  bool kill_group_;
  UniqueFd event_;
  UniqueFd pidfd_;
  mutable std::mutex mu_;
  State state_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

// When to swap in a fresh zygote (0: never). Every child of one zygote
// shares its address-space layout and hash seed; recycling bounds how many
// requests, and how long, that lasts.
struct RecyclePolicy {
  uint64_t requests = 0;
  uint64_t seconds = 0;
};

class ZygoteClient {
 public:
  // `options`: every zygote's configuration, sent as its first message. A
  // host uid range in it is split in two halves, one for the current zygote
  // and one for a zygote being recycled, so no two live sandboxes of either
  // share a host uid.
  ZygoteClient(embed::ZygoteOptions options, RecyclePolicy recycle = {});
  ~ZygoteClient();

  // Starts a zygote and waits for it to be ready. Call first before any
  // other thread exists; later starts happen from the supervisor thread.
  bool Start(std::string* error);
  // Restarts the zygote whenever it dies, with a short back-off, and swaps in
  // a fresh one when the recycle policy says so, without failing a request:
  // the old one finishes the jobs it has, then exits.
  void StartSupervisor();
  void Stop();

  // Hands a job to the zygote. `fds` as in protocol.h. Null when there is no
  // ready zygote (`why` says so).
  std::shared_ptr<Job> Submit(proto::Message job, const std::vector<int>& fds, std::string* why);

  bool Ready() const { return ready_.load(); }
  embed::ReadyReport Report() const;  // the latest zygote's Ready report
  uint64_t Restarts() const { return restarts_.load(); }
  uint64_t Recycles() const { return recycles_.load(); }

 private:
  // One zygote process and the thread that reads its replies.
  struct Instance {
    pid_t pid = -1;
    UniqueFd sock;
    std::thread reader;
    std::chrono::steady_clock::time_point started;
    uint64_t submitted = 0;
    size_t in_flight = 0;
    bool retiring = false;
    bool finished = false;  // the reader has seen the zygote go
    embed::ReadyReport report;
    bool pid_namespace = false;
    int uid_half = 0;  // which half of the host uid range it leases from
  };
  struct Pending {
    std::shared_ptr<Job> job;
    Instance* owner;
  };

  std::shared_ptr<Instance> Launch(std::string* error);
  void Install(std::shared_ptr<Instance> instance);
  void ReaderLoop(Instance* instance);
  bool RecycleDue() const;  // with mu_ held
  void JoinFinished();

  embed::ZygoteOptions options_;
  RecyclePolicy recycle_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> restarts_{0};
  std::atomic<uint64_t> recycles_{0};
  std::atomic<uint64_t> next_job_{1};

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable changed_;
  std::shared_ptr<Instance> current_;
  embed::ReadyReport last_report_;  // kept while a dead zygote is being replaced
  std::vector<std::shared_ptr<Instance>> instances_;  // current and retiring ones
  int last_uid_half_ = 1;  // the first zygote takes half 0
  std::map<uint64_t, Pending> jobs_;
  std::thread supervisor_;
  std::mutex send_mu_;
};

}  // namespace wj
