#include "src/reaper.h"

#include <malloc.h>

#include <cmath>

#include "src/log.h"

namespace wj {

void LogRequest(Finishing& done) {
  if (done.job) {
    Job::State s = done.job->Snapshot();
    done.log["cpu_ms"] = std::round((s.user_us + s.system_us) / 1000.0 * 1000) / 1000;
    done.log["peak_memory_bytes"] = s.peak_memory_bytes ? s.peak_memory_bytes : s.max_rss_kb * 1024;
  }
  LogEvent("request", done.log);
}

Reaper::Reaper() : thread_(&Reaper::Loop, this) {}

Reaper::~Reaper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Reaper::Finish(Finishing done) {
  if (!done.job || done.job->Finished()) {
    LogRequest(done);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  waiting_.push_back(std::move(done));
  wake_.notify_all();
}

void Reaper::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto trimmed = std::chrono::steady_clock::now();
  while (!stopping_ || !waiting_.empty()) {
    wake_.wait_for(lock, std::chrono::milliseconds(5));
    // Request bodies and outputs come and go in megabytes; hand the freed
    // memory back to the system now and then instead of letting the
    // allocator keep it.
    if (std::chrono::steady_clock::now() - trimmed > std::chrono::seconds(10)) {
      ::malloc_trim(0);
      trimmed = std::chrono::steady_clock::now();
    }
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      bool overdue = std::chrono::steady_clock::now() - it->since > std::chrono::seconds(10);
      // Past its request's deadline (a child still running after its
      // answer), or overdue: a teardown never takes this long.
      if ((overdue || it->job->DeadlinePassed()) && !it->job->Finished()) it->job->Kill();
      if (it->job->Finished() || (overdue && stopping_)) {
        LogRequest(*it);
        it = waiting_.erase(it);  // releases the slot
      } else {
        ++it;
      }
    }
  }
}

}  // namespace wj
