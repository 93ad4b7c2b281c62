// A child's outcome is often known before its teardown ends (the document is
// complete, the process is still exiting). The request is answered at once;
// the Reaper keeps the request's sandbox slot until the child is really gone,
// so the number of live sandboxes stays bounded, and writes the request's log
// line then, with the CPU time and peak memory the exit report brings.
#pragma once
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "src/admission.h"
#include "src/zygote_client.h"

namespace wj {

struct Finishing {
  std::shared_ptr<Job> job;             // may be null: nothing left to wait for
  std::optional<Admission::Slot> slot;  // released when the child is gone
  nlohmann::json log;                   // the request's log line so far
  std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
};

// Completes the log line with the child's exit report and writes it.
void LogRequest(Finishing& done);

class Reaper {
 public:
  Reaper();
  ~Reaper();
  // Finishes `done` now when its child is gone, else once it is.
  void Finish(Finishing done);

 private:
  void Loop();
  std::mutex mu_;
  std::condition_variable wake_;
  std::list<Finishing> waiting_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace wj
