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

// True when `text` is one complete, well-formed JSON value: valid UTF-8, no
// NaN, and no raw NUL byte (which the parser would take for the end of the
// input, accepting what comes before it). Result text from a sandbox is
// spliced into a response only when this holds.
bool ValidJsonText(std::string_view text);

// The deepest nesting of arrays and objects in a JSON text (strings skipped).
size_t NestingDepth(std::string_view text);
inline constexpr size_t kMaxNesting = 512;

// Validates `body` against the contract and the server's maxima.
std::variant<ExecuteRequest, ApiError> ParseExecuteRequest(std::string_view body, const Limits& max);

// The closed list of outcomes; each but kOk is an error_type of the API.
enum class Outcome {
  kOk,
  kSyntaxError,
  kNoMain,
  kRuntimeError,
  kNotJsonSerializable,
  kMemoryLimit,
  kTimeout,
  kCrashed,
  kResultTooLarge,
  kUnavailable,
  kInternal,
};

const char* ErrorType(Outcome outcome);
int HttpStatus(Outcome outcome);

struct SandboxResult {
  Outcome outcome = Outcome::kInternal;
  std::string error;      // the human sentence
  std::string traceback;  // runtime_error only
  std::string result_json;  // kOk only: the script's JSON text, validated, passed through as is
  std::string stdout_text;
  std::string stderr_text;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  bool script_ran = false;  // stderr is reported once the script ran
  double duration_ms = 0;
  double cpu_ms = 0;
  uint64_t peak_memory_bytes = 0;
  nlohmann::json stages;  // [[step, ms], ...]: the child's set-up steps in order
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
