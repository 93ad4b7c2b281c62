// Structured logging: one line per event on stderr, JSON by default or
// key=value text for people (--log-format text).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace wj {

void SetLogFormat(const std::string& format);  // "json" or "text"
// {"time": ..., "event": event, ...fields}
void LogEvent(const std::string& event, nlohmann::json fields = nlohmann::json::object());

}  // namespace wj
