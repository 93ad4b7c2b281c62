#include "src/contract.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>

namespace wj {

namespace {
using nlohmann::json;

ApiError Invalid(std::string message) { return ApiError{400, "invalid_request", std::move(message)}; }
// The end of the JSON value that starts at `i` in `text`, which nlohmann
// has already accepted as JSON: strings are skipped with their escapes,
// arrays and objects by counting brackets outside strings (no recursion).
size_t SkipValue(std::string_view text, size_t i) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;  // a string value, or a key
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (depth == 0) return i;  // the end of the enclosing object
      if (--depth == 0) return i + 1;
    } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
      return i;  // the end of a number or literal
    }
  }
  return i;
}

size_t SkipSpace(std::string_view text, size_t i) {
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  return i;
}

// The text of the top-level member `name` of `body` (the last one, as the
// parser keeps), exactly as the client sent it: `input` reaches main() as
// Python's json.loads reads that text, its keys in their order and its
// integers exact, which a round trip through nlohmann::json loses (keys
// sorted, integers past 64 bits made doubles). `body` is a JSON object
// nlohmann has accepted.
std::optional<std::string_view> MemberText(std::string_view body, std::string_view name) {
  std::optional<std::string_view> found;
  size_t i = SkipSpace(body, 0);
  if (i >= body.size() || body[i] != '{') return found;
  i = SkipSpace(body, i + 1);
  while (i < body.size() && body[i] == '"') {
    size_t key_end = SkipValue(body, i);
    json key = json::parse(body.substr(i, key_end - i), nullptr, /*allow_exceptions=*/false);
    i = SkipSpace(body, key_end);
    if (i >= body.size() || body[i] != ':') return std::nullopt;
    size_t value_begin = SkipSpace(body, i + 1);
    size_t value_end = SkipValue(body, value_begin);
    if (key.is_string() && key.get_ref<const std::string&>() == name)
      found = body.substr(value_begin, value_end - value_begin);
    i = SkipSpace(body, value_end);
    if (i < body.size() && body[i] == ',') i = SkipSpace(body, i + 1);
  }
  return found;
}

}  // namespace

size_t NestingDepth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::variant<ExecuteRequest, ApiError> ParseExecuteRequest(std::string_view body, const Limits& max) {
  // Serializing and freeing a document recurse once per level: a body nested
  // a hundred thousand deep, small as it is, would overflow the stack.
  if (NestingDepth(body) > kMaxNesting)
    return Invalid("Request body nests deeper than " + std::to_string(kMaxNesting) + " levels");
  // Invalid UTF-8 is a parse error for nlohmann::json, so both cases of the
  // first row of the error table land here.
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Invalid("Request body must be a JSON object");

  ExecuteRequest req;
  for (const auto& [key, value] : doc.items()) {
    if (key != "script" && key != "input" && key != "limits")
      return Invalid("Unknown field '" + key + "': allowed fields are 'script', 'input' and 'limits'");
  }
  auto script = doc.find("script");
  if (script == doc.end() || !script->is_string()) return Invalid("Request must contain 'script' field");
  req.script = script->get<std::string>();
  if (auto input = doc.find("input"); input != doc.end()) {
    std::optional<std::string_view> text = MemberText(body, "input");
    req.input_json = text ? std::string(*text) : input->dump();
  }

  if (auto limits = doc.find("limits"); limits != doc.end()) {
    if (!limits->is_object()) return Invalid("Field 'limits' must be an object");
    for (const auto& [key, value] : limits->items()) {
      if (key == "timeout_s") {
        if (!value.is_number()) return Invalid("limits.timeout_s must be a number");
        double t = value.get<double>();
        if (!(t > 0) || !std::isfinite(t)) return Invalid("limits.timeout_s must be greater than 0");
        if (t > max.timeout_s)
          return Invalid("limits.timeout_s must be at most the server's maximum of " + FormatSeconds(max.timeout_s));
        req.timeout_s = t;
      } else if (key == "memory_mb") {
        if (!value.is_number_integer()) return Invalid("limits.memory_mb must be an integer");
        if (value.is_number_unsigned() ? value.get<uint64_t>() == 0 : value.get<int64_t>() <= 0)
          return Invalid("limits.memory_mb must be greater than 0");
        uint64_t m = value.get<uint64_t>();
        if (m > max.memory_mb)
          return Invalid("limits.memory_mb must be at most the server's maximum of " + std::to_string(max.memory_mb));
        req.memory_mb = m;
      } else {
        return Invalid("Unknown field 'limits." + key + "': allowed are 'timeout_s' and 'memory_mb'");
      }
    }
  }
  return req;
}

JsonResponse ToResponse(const SandboxResult& r) {
  JsonResponse out;
  out.status = HttpStatus(r.outcome);
  json& body = out.body;
  if (r.outcome == Outcome::kOk) {
    out.raw_result = r.result_json;
  } else {
    body["error"] = r.error;
    body["error_type"] = ErrorType(r.outcome);
  }
  body["stdout"] = r.stdout_text;
  if (r.script_ran || r.outcome == Outcome::kOk) body["stderr"] = r.stderr_text;
  if (r.stdout_truncated) body["stdout_truncated"] = true;
  if (r.stderr_truncated) body["stderr_truncated"] = true;
  if (r.outcome == Outcome::kRuntimeError) body["traceback"] = r.traceback;
  body["duration_ms"] = std::round(r.duration_ms * 1000) / 1000;
  return out;
}

JsonResponse ErrorResponse(const ApiError& error) {
  JsonResponse out;
  out.status = error.status;
  out.body = json{{"error", error.message}, {"error_type", error.type}, {"stdout", ""}};
  return out;
}

std::string SerializeResponse(const JsonResponse& response) {
  std::string rest = DumpBody(response.body);
  if (response.raw_result.empty()) return rest;
  // rest is a JSON object: "{...}". Put "result" first.
  std::string out = "{\"result\":" + response.raw_result;
  if (rest.size() > 2) out += "," + rest.substr(1);
  else out += "}";
  return out;
}

std::string DumpBody(const nlohmann::json& body) {
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace wj
