#include "src/contract.h"

#include <algorithm>
#include <cmath>

namespace wj {

namespace {
using nlohmann::json;

ApiError Invalid(std::string message) { return ApiError{400, "invalid_request", std::move(message)}; }
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
  if (auto input = doc.find("input"); input != doc.end()) req.input_json = input->dump();

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
