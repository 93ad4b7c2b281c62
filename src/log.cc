#include "src/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include "src/contract.h"

namespace wj {

namespace {
std::atomic<bool> g_text{false};

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char buf[64];
  struct tm tm;
  ::gmtime_r(&t, &tm);
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}
}  // namespace

void SetLogFormat(const std::string& format) { g_text = format == "text"; }

void LogEvent(const std::string& event, nlohmann::json fields) {
  std::string line;
  if (g_text) {
    line = Timestamp() + " " + event;
    for (const auto& [key, value] : fields.items())
      line += " " + key + "=" + (value.is_string() ? value.get<std::string>() : DumpBody(value));
  } else {
    nlohmann::json out = {{"time", Timestamp()}, {"event", event}};
    out.update(fields);
    line = DumpBody(out);
  }
  line += "\n";
  // One write per line keeps lines whole when threads log at once.
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace wj
