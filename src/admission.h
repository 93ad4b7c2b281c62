// Bounded concurrency: at most `slots` sandboxes at once, at most `queue`
// requests waiting for one (first come, first served); past that, 429.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

namespace wj {

class Admission {
 public:
  Admission(unsigned slots, unsigned queue) : slots_(slots), queue_(queue) {}

  class Slot {
   public:
    explicit Slot(Admission* owner) : owner_(owner) {}
    Slot(Slot&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        if (owner_) owner_->Release();
        owner_ = other.owner_;
        other.owner_ = nullptr;
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    ~Slot() {
      if (owner_) owner_->Release();
    }

   private:
    Admission* owner_;
  };

  // Waits for a slot; nullopt at once when the wait queue is full.
  std::optional<Slot> Acquire();
  unsigned Running() const;
  unsigned Waiting() const;

 private:
  void Release();
  const unsigned slots_;
  const unsigned queue_;
  mutable std::mutex mu_;
  std::condition_variable freed_;
  unsigned running_ = 0;
  unsigned waiting_ = 0;
  uint64_t next_ticket_ = 0;
  uint64_t serving_ = 0;  // the oldest waiting ticket
};

}  // namespace wj
