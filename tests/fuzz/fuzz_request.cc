// libFuzzer target over the /execute contract (src/contract.h):
//   1. wj::ParseExecuteRequest on the raw input as a request body, against the
//      default server maxima and a tight set of maxima;
//   2. wj::SerializeResponse(wj::ToResponse(...)) with the input as the
//      script's output, error text and traceback, and (when it is valid JSON)
//      as the result text.
// Invariants checked (a violation aborts, which libFuzzer reports as a crash):
//   - parsing never throws; an error is a 400 invalid_request with a message;
//   - an accepted request has a string script and limits within the maxima,
//     and its input, when present, is valid JSON;
//   - every serialized response body is valid JSON (UTF-8 errors replaced),
//     an object, with the result (when given) equal to the result text.
// Built only with clang (-fsanitize=fuzzer); see tests/fuzz/run.sh.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "src/config.h"
#include "src/contract.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_request: invariant violated: %s\n%.2000s\n", what, detail.c_str());
  std::abort();
}

void CheckParse(std::string_view body, const wj::Limits& max) {
  auto parsed = wj::ParseExecuteRequest(body, max);
  if (auto* err = std::get_if<wj::ApiError>(&parsed)) {
    if (err->status != 400 || err->type != "invalid_request") Fail("parse error is not 400 invalid_request", err->type);
    if (err->message.empty()) Fail("parse error without a message", "");
    // The error body itself must serialize to valid JSON.
    std::string out = wj::SerializeResponse(wj::ErrorResponse(*err));
    if (!nlohmann::json::accept(out)) Fail("error body is not valid JSON", out);
    return;
  }
  const auto& req = std::get<wj::ExecuteRequest>(parsed);
  if (req.timeout_s) {
    double t = *req.timeout_s;
    if (!(t > 0) || !std::isfinite(t) || t > max.timeout_s) Fail("accepted timeout_s out of range", std::to_string(t));
  }
  if (req.memory_mb && (*req.memory_mb == 0 || *req.memory_mb > max.memory_mb))
    Fail("accepted memory_mb out of range", std::to_string(*req.memory_mb));
  if (req.input_json && !nlohmann::json::accept(*req.input_json)) Fail("input_json is not valid JSON", *req.input_json);
}

void CheckSerialize(std::string_view data) {
  std::string text(data);
  wj::SandboxResult r;
  const wj::Outcome outcomes[] = {
      wj::Outcome::kOk,          wj::Outcome::kSyntaxError,    wj::Outcome::kNoMain,
      wj::Outcome::kRuntimeError, wj::Outcome::kNotJsonSerializable, wj::Outcome::kMemoryLimit,
      wj::Outcome::kTimeout,     wj::Outcome::kCrashed,        wj::Outcome::kResultTooLarge,
      wj::Outcome::kUnavailable, wj::Outcome::kInternal};
  uint8_t pick = data.empty() ? 0 : static_cast<uint8_t>(data[0]);
  r.outcome = outcomes[pick % (sizeof(outcomes) / sizeof(outcomes[0]))];
  bool valid_result = wj::StrictJsonText(text);
  if (r.outcome == wj::Outcome::kOk) {
    // The server only passes through result text the sandbox validated.
    r.result_json = valid_result ? text : "null";
  }
  r.error = text;
  r.traceback = text;
  r.stdout_text = text;
  r.stderr_text = std::string(text.rbegin(), text.rend());
  r.stdout_truncated = pick & 0x10;
  r.stderr_truncated = pick & 0x20;
  r.script_ran = pick & 0x40;
  r.duration_ms = static_cast<double>(text.size()) / 7.0;

  wj::JsonResponse resp = wj::ToResponse(r);
  std::string out = wj::SerializeResponse(resp);
  nlohmann::json doc = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) Fail("response body is not valid JSON", out);
  if (!doc.is_object()) Fail("response body is not an object", out);
  if (!doc.contains("stdout") || !doc["stdout"].is_string()) Fail("response body without a string stdout", out);
  if (r.outcome == wj::Outcome::kOk) {
    if (resp.status != 200) Fail("ok outcome is not 200", std::to_string(resp.status));
    if (!doc.contains("result")) Fail("ok body without result", out);
    if (doc["result"] != nlohmann::json::parse(r.result_json)) Fail("result changed on the way through", out);
    if (doc.contains("error") || doc.contains("error_type")) Fail("ok body with an error", out);
  } else {
    if (resp.status < 400) Fail("failure outcome with a success status", std::to_string(resp.status));
    if (doc.contains("result")) Fail("failure body with a result", out);
    if (!doc.contains("error_type") || !doc["error_type"].is_string() || doc["error_type"].get<std::string>().empty())
      Fail("failure body without an error_type", out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  static const wj::Limits defaults;  // the server's default maxima
  static const wj::Limits tight = [] {
    wj::Limits l;
    l.timeout_s = 1.5;
    l.memory_mb = 64;
    return l;
  }();
  CheckParse(body, defaults);
  CheckParse(body, tight);
  CheckSerialize(body);
  return 0;
}
