#include "src/admission.h"

namespace wj {

std::optional<Admission::Slot> Admission::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  if (running_ < slots_ && waiting_ == 0) {
    ++running_;
    return Slot(this);
  }
  if (waiting_ >= queue_) return std::nullopt;
  uint64_t ticket = next_ticket_++;
  ++waiting_;
  freed_.wait(lock, [&] { return ticket == serving_ && running_ < slots_; });
  --waiting_;
  ++serving_;
  ++running_;
  freed_.notify_all();  // the next ticket may fit too
  return Slot(this);
}

void Admission::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  --running_;
  freed_.notify_all();
}

unsigned Admission::Running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

unsigned Admission::Waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

}  // namespace wj
