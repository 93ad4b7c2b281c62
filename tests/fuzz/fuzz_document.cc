// libFuzzer target over the sandbox-document reader (src/document.h): the
// input is what a sandbox wrote to its result descriptor.
//   1. wj::ReadSandboxDocument on the input, with a few result caps, whole
//      and as if cut off at the cap;
//   2. the input as the result text after a valid success header;
//   3. wj::StrictJsonText against nlohmann::json::accept (an independent,
//      iterative parser): they agree on every input but those with a leading
//      byte-order mark or a NUL, where nlohmann is lenient and the reader not.
// Invariants (a violation aborts, which libFuzzer reports as a crash):
//   - the reader never throws, recurses over the input, or answers 5xx;
//   - kOk only with a result of at most the cap that is strict JSON text;
//   - error and traceback are valid UTF-8 within their caps; stages within
//     theirs (count, name, duration);
//   - a document the reader calls incomplete is never taken for the runner's.
// Links only src/document.cc (no interpreter). Built only with clang
// (-fsanitize=fuzzer); see tests/fuzz/run.sh.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "src/document.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_document: invariant violated: %s\n%.2000s\n", what, std::string(detail).c_str());
  std::abort();
}

bool ValidUtf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();  // the strict error handler throws on invalid UTF-8
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

void CheckRead(std::string_view doc, uint64_t cap, bool truncated) {
  wj::SandboxDocument d = wj::ReadSandboxDocument(doc, cap, truncated);
  int status = wj::HttpStatus(d.outcome);
  if (status != 200 && status != 422) Fail("a sandbox's document gave a server status", std::to_string(status));
  if (d.outcome == wj::Outcome::kOk) {
    if (truncated) Fail("a cut-off document gave a result", doc);
    if (d.result.size() > cap) Fail("a result over the cap", std::to_string(d.result.size()));
    if (!wj::StrictJsonText(d.result)) Fail("a result that is not strict JSON text", d.result);
    if (!d.error.empty()) Fail("a result with an error", d.error);
  } else {
    if (d.error.empty()) Fail("an error without a text", doc);
    if (!ValidUtf8(d.error)) Fail("an error text that is not UTF-8", d.error);
    std::string_view start = wj::Spec(d.outcome).text;
    if (wj::Spec(d.outcome).text_kind != wj::TextKind::kTemplate && d.error.compare(0, start.size(), start) != 0)
      Fail("an error text that does not start as its outcome's", d.error);
    if (d.error.size() > wj::kMaxErrorBytes + 256) Fail("an error text over its cap", std::to_string(d.error.size()));
  }
  if (!d.traceback.empty() && d.outcome != wj::Outcome::kRuntimeError) Fail("a traceback outside runtime_error", doc);
  if (d.traceback.size() > wj::kMaxTracebackBytes) Fail("a traceback over its cap", std::to_string(d.traceback.size()));
  if (!ValidUtf8(d.traceback)) Fail("a traceback that is not UTF-8", d.traceback);
  if (d.stages.size() > wj::kMaxStages) Fail("too many stages", std::to_string(d.stages.size()));
  for (const wj::Stage& s : d.stages) {
    if (s.name.empty() || s.name.size() > wj::kMaxStageNameBytes) Fail("a stage name out of bounds", s.name);
    for (char c : s.name)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) Fail("a stage name with a bad byte", s.name);
    if (!(s.ms >= 0 && s.ms <= wj::kMaxStageMs)) Fail("a stage duration out of range", s.name);
  }
  // An incomplete document (a refused header, or a success header without
  // its newline) is never read as the runner's.
  if (!wj::DocumentComplete(doc) &&
      d.error.rfind("Script crashed: it wrote an invalid result document (", 0) != 0)
    Fail("an incomplete document read as the runner's", d.error);
}

void CheckStrict(std::string_view text) {
  bool strict = wj::StrictJsonText(text);
  // nlohmann::json skips a leading byte-order mark and takes a NUL outside a
  // string for the end of the input; StrictJsonText refuses both.
  bool lenient = text.substr(0, 3) == "\xEF\xBB\xBF" || text.find('\0') != std::string_view::npos;
  bool accepted = nlohmann::json::accept(text.begin(), text.end());
  if (strict && (lenient || !accepted)) Fail("StrictJsonText accepted what nlohmann::json refuses", text);
  if (!strict && accepted && !lenient) Fail("StrictJsonText refused what nlohmann::json accepts", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (uint64_t cap : {uint64_t{0}, uint64_t{16}, uint64_t{1} << 20}) {
    CheckRead(input, cap, false);
    CheckRead(input, cap, true);
  }
  std::string success = "{\"stages\":[[\"forked\",1.5]],\"ok\":true}\n" + std::string(input);
  wj::SandboxDocument d = wj::ReadSandboxDocument(success, 1 << 20);
  if ((d.outcome == wj::Outcome::kOk) != wj::StrictJsonText(input)) Fail("a valid header changed the verdict", input);
  if (d.outcome == wj::Outcome::kOk && d.result != input) Fail("the result changed on the way through", input);
  CheckStrict(input);
  return 0;
}
