// The wire protocol between the server and the zygote: fixed-size messages on
// a SOCK_SEQPACKET socketpair, descriptors passed alongside with SCM_RIGHTS.
//
//   server -> zygote  kConfigure once, first: the zygote's options
//                               (text: embed::EncodeOptions), so that its
//                               argv carries nothing of the host
//                     kJob      fds: payload memfd, stdout, stderr, result
//                               pipes (write ends); the zygote forwards it
//                               to a ready spare child, which runs it
//   zygote -> spare   kPrewarm  on its hand-over socket, while the server is
//                               idle: warm up, then say ready again
//   zygote -> server  kReady    once, after warm-up; text: the probe's
//                               report (embed::EncodeReady)
//                     kStarted  fds: a pidfd of the child
//                     kExited   wait status and rusage of the child
//                     kRejected the job could not be started; text: why
//
// And between the zygote and its jailer (embed/jailer.h), on a socketpair of
// their own:
//   zygote -> jailer  kJailerDirs  once, after warm-up: the interpreter's
//                                  directories the sandboxes mount ('\0'-separated)
//                     kNestWanted  fds: the sandbox's cgroup.procs (any);
//                                  job_id: a serial; host_uid: the host id
//                                  its ids map to (0: the policy's)
//   jailer -> zygote  kNestMade    fds: jail::Nest::Fds(); pid: the nest's init
//                     kNestFailed  text: why
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/unique_fd.h"

namespace wj::proto {

enum class Kind : uint32_t { kJob = 1, kReady = 2, kStarted = 3, kExited = 4, kRejected = 5, kConfigure = 6,
                          kJailerDirs = 7, kNestWanted = 8, kNestMade = 9, kNestFailed = 10,
                          kPrewarm = 11 };

inline constexpr size_t kJobFixedFds = 4;
inline constexpr size_t kMaxFds = 8;
inline constexpr size_t kMaxText = 60 * 1024;

struct Message {
  Kind kind{};
  uint64_t job_id = 0;
  // kJob: the limits the child applies to itself.
  uint64_t memory_bytes = 0;
  uint64_t cpu_seconds = 0;
  uint64_t max_result_bytes = 0;
  uint32_t oom_killed = 0;       // kExited: the cgroup's OOM killer fired
  uint64_t sent_ns = 0;          // kJob: CLOCK_MONOTONIC when the zygote got it
  uint64_t peak_memory_bytes = 0;  // kExited
  // kStarted, kExited
  int32_t pid = 0;
  int32_t wait_status = 0;
  int64_t user_us = 0;
  int64_t system_us = 0;
  int64_t max_rss_kb = 0;
  uint32_t host_uid = 0;  // kNestWanted
};

// Sends `msg`, `text` and `fds` as one packet. Returns false with errno set.
bool Send(int sock, const Message& msg, const std::string& text = "", const std::vector<int>& fds = {});

enum class RecvResult { kOk, kClosed, kError };
// Receives one packet; descriptors arrive close-on-exec.
RecvResult Receive(int sock, Message* msg, std::string* text, std::vector<UniqueFd>* fds);

// The payload memfd: the script, then the input JSON (empty when absent).
std::string EncodePayload(const std::string& script, const std::string& input_json);
bool DecodePayload(const std::string& bytes, std::string* script, std::string* input_json);

}  // namespace wj::proto
