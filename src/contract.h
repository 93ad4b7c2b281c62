// The /execute contract of docs/API.md, free of any transport: parsing and
// validating a request, and turning an outcome into a status and JSON body.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "src/config.h"
#include "src/document.h"

namespace wj {

struct ApiError {
  int status;
  std::string type;
  std::string message;
};

struct ExecuteRequest {
  std::string script;
  std::optional<std::string> input_json;  // serialized; absent: main() takes no argument
  std::optional<double> timeout_s;
  std::optional<uint64_t> memory_mb;
};

// The deepest nesting of arrays and objects in a JSON text (strings skipped).
size_t NestingDepth(std::string_view text);
inline constexpr size_t kMaxNesting = 512;

// Validates `body` against the contract and the server's maxima.
std::variant<ExecuteRequest, ApiError> ParseExecuteRequest(std::string_view body, const Limits& max);

struct SandboxResult {
  Outcome outcome = Outcome::kInternal;
  std::string error;      // the human sentence
  std::string traceback;  // runtime_error only
  std::string result_json;  // kOk only: the script's JSON text, validated (StrictJsonText), passed through as is
  std::string stdout_text;
  std::string stderr_text;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  bool script_ran = false;  // stderr is reported once the script ran
  double duration_ms = 0;
  double cpu_ms = 0;
  uint64_t peak_memory_bytes = 0;
  std::vector<Stage> stages;  // the child's set-up steps in order, as its document gave them
};

struct JsonResponse {
  int status = 200;
  nlohmann::json body;
  std::string raw_result;  // when set, the body's "result": JSON text spliced in unparsed
  std::vector<std::pair<std::string, std::string>> headers;
};

JsonResponse ToResponse(const SandboxResult& result);
JsonResponse ErrorResponse(const ApiError& error);

// Serializes a body; invalid UTF-8 in script output becomes U+FFFD.
std::string DumpBody(const nlohmann::json& body);
// The whole response body, with raw_result spliced in as "result".
std::string SerializeResponse(const JsonResponse& response);

}  // namespace wj
