// The result of a step that can fail (an isolation step, a cgroup write): ok,
// or a message naming the syscall that failed, in the form nsjail made
// familiar: "pivot_root(., .): Operation not permitted".
#pragma once
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace wj {

class Status {
 public:
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }
  // `call` is the syscall as it was made, e.g. "mount(tmpfs, /tmp)".
  static Status Errno(const std::string& call, int err = errno) {
    return Status(call + ": " + std::strerror(err));
  }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  Status() = default;
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

// Returns from the enclosing function when `expr` is an error.
#define WJ_RETURN_IF_ERROR(expr)           \
  do {                                     \
    ::wj::Status status_ = (expr);   \
    if (!status_.ok()) return status_;     \
  } while (0)

}  // namespace wj
