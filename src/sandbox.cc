#include "src/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>

#include "embed/protocol.h"
#include "src/document.h"
#include "src/log.h"
#include "src/outcome.h"
#include "util/stage_times.h"

namespace wj {

namespace {

static_assert(StageTimes::kMax <= kMaxStages, "the reader accepts every stage the zygote reports");

using Clock = std::chrono::steady_clock;

struct Pipe {
  UniqueFd read, write;
  bool Open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read.reset(fds[0]);
    write.reset(fds[1]);
    ::fcntl(read.get(), F_SETFL, O_NONBLOCK);
    return true;
  }
};

// Reads what is available into `out`, keeping at most `cap` bytes; the rest
// is drained and dropped. Returns false at EOF.
bool Drain(int fd, std::string* out, uint64_t cap, bool* truncated) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      size_t room = out->size() < cap ? cap - out->size() : 0;
      out->append(buf, std::min<size_t>(room, n));
      if (static_cast<size_t>(n) > room) *truncated = true;
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN;  // nothing more for now; other errors end the stream
  }
}

// A cut may land inside a UTF-8 sequence: drop the partial character.
void TrimPartialUtf8(std::string* s) {
  size_t i = s->size(), back = 0;
  while (i > 0 && back < 4 && (static_cast<unsigned char>((*s)[i - 1]) & 0xC0) == 0x80) --i, ++back;
  if (i == 0) return;
  unsigned char lead = (*s)[i - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (need > 1 && back + 1 < need) s->resize(i - 1);
}

UniqueFd MakePayload(const ExecuteRequest& request) {
  UniqueFd fd(::memfd_create("warmjail-payload", MFD_CLOEXEC));
  if (!fd) return fd;
  std::string payload = proto::EncodePayload(request.script, request.input_json.value_or(""));
  size_t done = 0;
  while (done < payload.size()) {
    ssize_t n = ::write(fd.get(), payload.data() + done, payload.size() - done);
    if (n <= 0) return UniqueFd();
    done += n;
  }
  return fd;
}

}  // namespace

SandboxResult Sandbox::Run(const ExecuteRequest& request, const EffectiveLimits& limits, std::shared_ptr<Job>* job_out) {
  const auto start = Clock::now();
  SandboxResult result;
  Observation seen;
  seen.timeout_s = limits.timeout_s;
  seen.cpu_time_s = std::ceil(limits.cpu_time_s);
  seen.max_result_bytes = limits.max_result_bytes;
  auto finish = [&]() {
    Interpret(seen, &result);
    result.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    return result;
  };

  Pipe out, err, res;
  UniqueFd payload = MakePayload(request);
  if (!payload || !out.Open() || !err.Open() || !res.Open()) {
    seen.unavailable = std::string("could not create the request's pipes: ") + strerror(errno);
    return finish();
  }
  // A larger result pipe means fewer round trips for big results.
  ::fcntl(res.write.get(), F_SETPIPE_SZ, 1 << 20);

  proto::Message job{proto::Kind::kJob};
  job.memory_bytes = limits.memory_mb << 20;
  job.cpu_seconds = static_cast<uint64_t>(seen.cpu_time_s);
  job.max_result_bytes = limits.max_result_bytes;
  std::vector<int> fds = {payload.get(), out.write.get(), err.write.get(), res.write.get()};

  std::string why;
  std::shared_ptr<Job> handle = zygote_->Submit(job, fds, &why);
  if (!handle) {
    seen.unavailable = why;
    return finish();
  }
  *job_out = handle;
  // Only the child may hold the write ends now, so EOF means it is done.
  payload.reset();
  out.write.reset();
  err.write.reset();
  res.write.reset();

  // Exactly what the reader accepts, plus one byte to tell "too much" apart.
  const uint64_t doc_cap = DocumentCap(limits.max_result_bytes);
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limits.timeout_s));
  bool out_open = true, err_open = true, res_open = true, setup_recorded = false;
  std::optional<bool> doc_complete;  // known once every pipe is closed: the document is final then
  std::optional<Clock::time_point> finished_at;
  for (;;) {
    Job::State state = handle->Snapshot();
    if (state.started && !setup_recorded) {
      metrics_->RecordSetup(std::chrono::duration<double>(Clock::now() - start).count());
      setup_recorded = true;
    }
    bool finished = state.exited || state.rejected || state.lost;
    if (finished && !finished_at) finished_at = Clock::now();
    bool pipes_closed = !(out_open || err_open || res_open);
    if (finished && pipes_closed) break;
    // The worker closes stdout and stderr, then writes its document and
    // closes that too: a complete document at EOF is the outcome, whatever
    // the process's teardown still takes.
    if (pipes_closed && !doc_complete) doc_complete = !seen.doc_overflow && DocumentComplete(seen.doc);
    if (pipes_closed && !seen.timed_out && *doc_complete) {
      // Answered now; a child that has not exited yet (the runner exits as
      // soon as its document is written; a script that wrote one itself need
      // not) still ends at the request's deadline (src/reaper.cc).
      if (!finished) handle->SetDeadline(deadline);
      break;
    }
    // After the child is reaped, a descendant outside a PID namespace could
    // still hold a pipe: give it a moment, then stop listening.
    if (finished_at && Clock::now() - *finished_at > std::chrono::milliseconds(200)) {
      handle->Kill();
      break;
    }
    auto now = Clock::now();
    if (!seen.timed_out && now >= deadline && !finished) {
      seen.timed_out = true;
      handle->Kill();
      deadline = now + std::chrono::seconds(5);  // for the exit report to arrive
    } else if (seen.timed_out && now >= deadline) {
      break;
    }
    int wait_ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
    if (finished_at) wait_ms = std::min(wait_ms, 20);
    struct pollfd pfds[4];
    nfds_t n = 0;
    pfds[n++] = {handle->event_fd(), POLLIN, 0};
    if (out_open) pfds[n++] = {out.read.get(), POLLIN, 0};
    if (err_open) pfds[n++] = {err.read.get(), POLLIN, 0};
    if (res_open) pfds[n++] = {res.read.get(), POLLIN, 0};
    if (::poll(pfds, n, std::max(wait_ms, 0)) < 0 && errno != EINTR) break;
    handle->ClearEvent();
    if (out_open) out_open = Drain(out.read.get(), &result.stdout_text, limits.max_output_bytes, &result.stdout_truncated);
    if (err_open) err_open = Drain(err.read.get(), &result.stderr_text, limits.max_output_bytes, &result.stderr_truncated);
    if (res_open) res_open = Drain(res.read.get(), &seen.doc, doc_cap, &seen.doc_overflow);
  }

  Job::State state = handle->Snapshot();
  // A document means a child ran, even if the zygote's report of its start
  // is still on its way.
  seen.started = state.started || !seen.doc.empty();
  if (state.rejected) seen.unavailable = state.reason;
  seen.zygote_lost = state.lost;
  if (state.lost && !state.started) seen.unavailable = state.reason;
  seen.exited = state.exited;
  seen.wait_status = state.wait_status;
  seen.cpu_used_s = (state.user_us + state.system_us) / 1e6;
  seen.oom_killed = state.oom_killed;
  result.peak_memory_bytes = state.peak_memory_bytes;
  if (!result.peak_memory_bytes) result.peak_memory_bytes = static_cast<uint64_t>(state.max_rss_kb) * 1024;
  result.cpu_ms = (state.user_us + state.system_us) / 1000.0;
  if (result.stdout_truncated) TrimPartialUtf8(&result.stdout_text);
  if (result.stderr_truncated) TrimPartialUtf8(&result.stderr_text);
  return finish();
}

}  // namespace wj
