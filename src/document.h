// The sandbox's result document and the error vocabulary of the API, each
// defined once here, and the one reader that turns the bytes a sandbox wrote
// into an outcome.
//
// Everything on the result descriptor was written by a process the script
// controls (the script can write fd 3 itself, or break the runner), so the
// reader treats it as hostile input, like a request body: bounded in size,
// depth and shape, with no recursion over anything the child decides and no
// JSON tree built from it. A document the server cannot trust as the
// runner's is the script's fault (422 crashed), never a server error.
//
// The document, as embed/runner.py writes it and the zygote prefixes it with
// the sandbox's set-up stages (embed/worker.cc):
//   success:  {"stages":[["forked",0.123],...],"ok":true}\n<the result's JSON text>
//   failure:  {"stages":[...],"ok":false,"error_type":"<script outcome>","error":"...","traceback":"..."}
//
// Pure and free of the embedded interpreter: the unit tests and the fuzzer
// (tests/fuzz/fuzz_document.cc) link it without libpython.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wj {

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

// How an outcome's `error` text is built from the table's `text`.
enum class TextKind {
  kNone,      // kOk
  kFixed,     // exactly `text`
  kPrefix,    // `text` followed by a detail
  kTemplate,  // `text` with "{}" replaced by a figure (a limit)
};

// One row of the error vocabulary.
struct OutcomeSpec {
  Outcome outcome;
  const char* error_type;  // "" for kOk
  int http_status;
  TextKind text_kind;
  const char* text;
  bool script_ran;  // the script's own code ran: its stderr is part of the response
};

// Every outcome, in enum order.
std::span<const OutcomeSpec> OutcomeTable();
const OutcomeSpec& Spec(Outcome outcome);
const char* ErrorType(Outcome outcome);
int HttpStatus(Outcome outcome);
// The error text of `outcome`: the fixed text, the prefix followed by
// `detail`, or the template with `detail` in place of "{}".
std::string OutcomeText(Outcome outcome, std::string_view detail = {});

// An error_type a document from inside the sandbox may carry, and what it
// becomes. Only the script's own outcomes (and runner_failed, which the
// script can cause by breaking the runner) are here: a document claiming any
// other (setup_failed, internal, unavailable, timeout, ...) is not the
// runner's, and so crashed.
struct DocumentErrorType {
  const char* error_type;
  Outcome outcome;
  bool keeps_error;      // the outcome's text is the document's `error` (it starts with the table's prefix)
  bool keeps_traceback;  // the document may carry a traceback, which the response returns
  const char* crash_detail;  // outcome kCrashed: the detail after "Script crashed: "
};
std::span<const DocumentErrorType> DocumentErrorTypes();

// The document's keys, as the runner writes them.
inline constexpr std::string_view kKeyStages = "stages";
inline constexpr std::string_view kKeyOk = "ok";
inline constexpr std::string_view kKeyErrorType = "error_type";
inline constexpr std::string_view kKeyError = "error";
inline constexpr std::string_view kKeyTraceback = "traceback";

// Bounds of the header (everything but the result text). The runner clips
// `error` and `traceback` to these many bytes of UTF-8; JSON escaping makes a
// byte at most six, so a header of the runner's stays well inside
// kMaxHeaderBytes. The server keeps no more of either field than the bound.
inline constexpr size_t kMaxErrorBytes = 4096;
inline constexpr size_t kMaxTracebackBytes = 32768;
inline constexpr size_t kMaxHeaderBytes = 256 * 1024;
inline constexpr size_t kMaxStages = 32;
inline constexpr size_t kMaxStageNameBytes = 31;
inline constexpr double kMaxStageMs = 1e9;

// How many bytes of the result descriptor the server keeps: one more than
// the largest acceptable document, so that keeping exactly this many means
// the child wrote too much.
inline uint64_t DocumentCap(uint64_t max_result_bytes) { return kMaxHeaderBytes + 1 + max_result_bytes + 1; }

struct Stage {
  std::string name;  // [a-z0-9_], 1 to kMaxStageNameBytes bytes
  double ms = 0;     // 0 to kMaxStageMs
};

// What the reader made of a document.
struct SandboxDocument {
  Outcome outcome = Outcome::kCrashed;
  std::string error;           // the response's error text (any outcome but kOk)
  std::string traceback;       // kRuntimeError only, at most kMaxTracebackBytes
  std::string_view result;     // kOk: the result's JSON text, a view into the input, validated
  std::vector<Stage> stages;   // from a header the reader accepted
};

// Reads a complete document (the child closed its end). `truncated`: the
// child wrote more than DocumentCap(max_result_bytes) and `doc` holds the
// first that many bytes. The result text must be at most max_result_bytes and
// strict JSON text (see StrictJsonText).
SandboxDocument ReadSandboxDocument(std::string_view doc, uint64_t max_result_bytes, bool truncated = false);

// True when `doc` holds a whole header the reader accepts, and for a success
// document also the newline that ends it: the child has said all it will.
bool DocumentComplete(std::string_view doc);

// True when `text` is one JSON value and nothing else but JSON whitespace:
// valid UTF-8 throughout, no byte-order mark (which nlohmann::json skips but
// a client's parser need not), no raw NUL, no NaN, no trailing bytes. Checked
// in one pass without recursion or a tree, whatever the nesting.
bool StrictJsonText(std::string_view text);

}  // namespace wj
