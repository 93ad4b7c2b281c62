#include "src/document.h"

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace wj {

namespace {

// The error vocabulary of the API, for outcomes of /execute. One row per
// Outcome, in enum order (checked below).
constexpr OutcomeSpec kOutcomes[] = {
    {Outcome::kOk, "", 200, TextKind::kNone, "", true},
    {Outcome::kSyntaxError, "syntax_error", 422, TextKind::kPrefix, "Syntax error in script: ", false},
    {Outcome::kNoMain, "no_main", 422, TextKind::kFixed, "ERROR: No main() function found", false},
    {Outcome::kRuntimeError, "runtime_error", 422, TextKind::kPrefix, "Script execution error: ", true},
    {Outcome::kNotJsonSerializable, "not_json_serializable", 422, TextKind::kPrefix,
     "ERROR: main() function must return JSON serializable data", true},
    {Outcome::kMemoryLimit, "memory_limit", 422, TextKind::kFixed, "Script execution error: Memory limit exceeded", true},
    {Outcome::kTimeout, "timeout", 422, TextKind::kTemplate, "Script execution timeout ({} seconds)", true},
    {Outcome::kCrashed, "crashed", 422, TextKind::kPrefix, "Script crashed: ", true},
    {Outcome::kResultTooLarge, "result_too_large", 422, TextKind::kTemplate,
     "Result is larger than the cap of {} bytes of JSON", true},
    {Outcome::kUnavailable, "unavailable", 503, TextKind::kPrefix, "Sandbox unavailable: ", false},
    {Outcome::kInternal, "internal", 500, TextKind::kFixed, "Internal error in the sandbox service", true},
};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < std::size(kOutcomes); ++i)
    if (static_cast<size_t>(kOutcomes[i].outcome) != i) return false;
  return std::size(kOutcomes) == static_cast<size_t>(Outcome::kInternal) + 1;
}
static_assert(InEnumOrder(), "kOutcomes has one row per Outcome, in enum order");

// What a document from inside the sandbox may claim (see document.h).
constexpr DocumentErrorType kDocumentErrorTypes[] = {
    {"syntax_error", Outcome::kSyntaxError, true, false, ""},
    {"no_main", Outcome::kNoMain, false, false, ""},
    {"runtime_error", Outcome::kRuntimeError, true, true, ""},
    {"not_json_serializable", Outcome::kNotJsonSerializable, true, false, ""},
    {"memory_limit", Outcome::kMemoryLimit, false, false, ""},
    {"result_too_large", Outcome::kResultTooLarge, false, false, ""},
    // The worker's own failure around the runner (embed/worker.cc): the
    // script runs in that process and can cause it.
    {"runner_failed", Outcome::kCrashed, false, false, "the runner in its sandbox failed"},
};

// Why a document is not the runner's: the detail of the crashed text. None
// quotes the child's bytes.
constexpr const char* kInvalidDocument = "it wrote an invalid result document";

std::string Invalid(std::string_view why) {
  return OutcomeText(Outcome::kCrashed, std::string(kInvalidDocument) + " (" + std::string(why) + ")");
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence (the
// JSON lexer has already checked that `s` is valid UTF-8).
void ClipUtf8(std::string* s, size_t max) {
  if (s->size() <= max) return;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>((*s)[end]) & 0xC0) == 0x80) --end;
  s->resize(end);
}

bool StageName(std::string_view name) {
  if (name.empty() || name.size() > kMaxStageNameBytes) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// A SAX handler that accepts exactly the header's shape and stops at the
// first thing that does not fit, so that nothing deeper than a stage pair is
// ever looked at: the header object (depth 1), the stages list (depth 2) and
// its [name, ms] pairs (depth 3). nlohmann's SAX parser is iterative; with
// this handler its own stack never grows past three levels either.
class HeaderReader {
 public:
  using json = nlohmann::json;

  std::string why;  // set when the header was refused for its shape
  std::vector<Stage> stages;
  bool has_ok = false, ok = false, has_error_type = false, has_error = false, has_traceback = false;
  std::string error_type, error, traceback;

  bool null() { return Refuse("a null value"); }
  bool boolean(bool value) {
    if (depth_ != 1 || key_ != Key::kOk) return Refuse("a boolean outside 'ok'");
    ok = value;
    return true;
  }
  bool number_integer(json::number_integer_t value) { return Number(static_cast<double>(value)); }
  bool number_unsigned(json::number_unsigned_t value) { return Number(static_cast<double>(value)); }
  bool number_float(json::number_float_t value, const std::string&) { return Number(value); }
  bool string(std::string& value) {
    if (depth_ == 3) {
      if (pair_items_ != 0) return Refuse("a stage is a [name, milliseconds] pair");
      if (!StageName(value)) return Refuse("a stage name that is not a short lower-case word");
      stages.back().name = std::move(value);
      ++pair_items_;
      return true;
    }
    if (depth_ != 1) return Refuse("a string outside a stage or field");
    switch (key_) {
      case Key::kErrorType: error_type = std::move(value); return true;
      case Key::kError: error = std::move(value); ClipUtf8(&error, kMaxErrorBytes); return true;
      case Key::kTraceback: traceback = std::move(value); ClipUtf8(&traceback, kMaxTracebackBytes); return true;
      default: return Refuse("a string where none belongs");
    }
  }
  bool binary(json::binary_t&) { return Refuse("binary data"); }
  bool start_object(std::size_t) {
    if (depth_ != 0) return Refuse("a nested object");
    depth_ = 1;
    return true;
  }
  bool key(std::string& name) {
    // Keys occur only in the header object: nested objects are refused.
    bool* seen = nullptr;
    if (name == kKeyStages) key_ = Key::kStages, seen = &has_stages_;
    else if (name == kKeyOk) key_ = Key::kOk, seen = &has_ok;
    else if (name == kKeyErrorType) key_ = Key::kErrorType, seen = &has_error_type;
    else if (name == kKeyError) key_ = Key::kError, seen = &has_error;
    else if (name == kKeyTraceback) key_ = Key::kTraceback, seen = &has_traceback;
    else return Refuse("an unknown key");
    if (*seen) return Refuse("a repeated key");
    *seen = true;
    return true;
  }
  bool end_object() {
    depth_ = 0;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ == 1 && key_ == Key::kStages) {
      depth_ = 2;
      return true;
    }
    if (depth_ == 2) {
      if (stages.size() >= kMaxStages) return Refuse("more than " + std::to_string(kMaxStages) + " stages");
      stages.emplace_back();
      pair_items_ = 0;
      depth_ = 3;
      return true;
    }
    return Refuse(depth_ == 3 ? "stages nested deeper than [name, milliseconds] pairs" : "a list outside 'stages'");
  }
  bool end_array() {
    if (depth_ == 3 && pair_items_ != 2) return Refuse("a stage is a [name, milliseconds] pair");
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    if (why.empty()) why = "the header is not JSON";
    return false;
  }

 private:
  enum class Key { kNone, kStages, kOk, kErrorType, kError, kTraceback };

  bool Number(double value) {
    if (depth_ != 3 || pair_items_ != 1) return Refuse("a number outside a stage");
    if (!(value >= 0 && value <= kMaxStageMs)) return Refuse("a stage duration out of range");
    stages.back().ms = value;
    ++pair_items_;
    return true;
  }
  bool Refuse(std::string reason) {
    if (why.empty()) why = std::move(reason);
    return false;
  }

  int depth_ = 0;
  Key key_ = Key::kNone;
  int pair_items_ = 0;
  bool has_stages_ = false;
};

struct Header {
  bool accepted = false;
  std::string why;  // !accepted
  HeaderReader fields;
  size_t end = 0;          // where the header's text ends (the newline, or the document's end)
  bool has_newline = false;
};

// Reads the header: the first line, bounded by kMaxHeaderBytes.
Header ReadHeader(std::string_view doc) {
  Header h;
  size_t newline = doc.find('\n', 0);
  h.has_newline = newline != std::string_view::npos;
  h.end = h.has_newline ? newline : doc.size();
  if (h.end > kMaxHeaderBytes) {
    h.why = "its header is longer than " + std::to_string(kMaxHeaderBytes) + " bytes";
    return h;
  }
  std::string_view text = doc.substr(0, h.end);
  // nlohmann::json skips a leading byte-order mark, and would take a NUL
  // inside a C string for the end: neither belongs in a header.
  if (text.substr(0, 3) == "\xEF\xBB\xBF" || text.find('\0') != std::string_view::npos) {
    h.why = "the header is not JSON";
    return h;
  }
  bool parsed = nlohmann::json::sax_parse(text.begin(), text.end(), &h.fields);
  if (!parsed) {
    h.why = h.fields.why.empty() ? "the header is not JSON" : h.fields.why;
    return h;
  }
  const HeaderReader& f = h.fields;
  if (!f.has_ok) {
    h.why = "the header has no 'ok'";
  } else if (f.ok && (f.has_error_type || f.has_error || f.has_traceback)) {
    h.why = "a success header with error fields";
  } else if (!f.ok && (!f.has_error_type || !f.has_error)) {
    h.why = "an error header without 'error_type' and 'error'";
  } else {
    h.accepted = true;
  }
  return h;
}

// Walks JSON text byte by byte with an explicit count of open arrays and
// objects, never a recursion, and says whether it is exactly one value. The
// grammar of RFC 8259, with UTF-8 checked as RFC 3629 defines it (no
// surrogates, no overlong forms) and \u escapes paired as UTF-16 requires.
class StrictScanner {
 public:
  explicit StrictScanner(std::string_view text) : s_(text) {}

  bool Accept() {
    SkipSpace();
    // The value stack: for each open container, whether it is an object.
    std::vector<bool> stack;
    for (;;) {
      // Expecting a value.
      if (i_ >= s_.size()) return false;
      char c = s_[i_];
      if (c == '{' || c == '[') {
        bool object = c == '{';
        ++i_;
        SkipSpace();
        if (i_ < s_.size() && s_[i_] == (object ? '}' : ']')) {
          ++i_;
        } else {
          stack.push_back(object);
          if (object && !Key()) return false;
          continue;
        }
      } else if (c == '"') {
        if (!String()) return false;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (!Number()) return false;
      } else if (!Literal("true") && !Literal("false") && !Literal("null")) {
        return false;
      }
      // After a value: close containers or move to the next element.
      for (;;) {
        SkipSpace();
        if (stack.empty()) return i_ == s_.size();
        if (i_ >= s_.size()) return false;
        char next = s_[i_++];
        bool object = stack.back();
        if (next == ',') {
          SkipSpace();
          if (object && !Key()) return false;
          break;
        }
        if (next != (object ? '}' : ']')) return false;
        stack.pop_back();
      }
    }
  }

 private:
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  // A key and its colon, then space up to the value.
  bool Key() {
    if (i_ >= s_.size() || s_[i_] != '"' || !String()) return false;
    SkipSpace();
    if (i_ >= s_.size() || s_[i_] != ':') return false;
    ++i_;
    SkipSpace();
    return true;
  }
  bool Literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  bool Digits() {
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  // A number must also fit a double: nlohmann::json (and so a client like
  // it) refuses 1e999 and 400-digit integers as an overflow, and others
  // would read them as infinity, which JSON cannot carry.
  bool Number() {
    size_t start = i_;
    bool exponent = false;
    if (!NumberToken(&exponent)) return false;
    if (!exponent && i_ - start < 300) return true;
    std::string token(s_.substr(start, i_ - start));
    return std::isfinite(std::strtod(token.c_str(), nullptr));
  }
  bool NumberToken(bool* exponent) {
    if (s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (!Digits()) {
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!Digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      *exponent = true;
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!Digits()) return false;
    }
    return true;
  }
  int Hex4() {
    if (s_.size() - i_ < 4) return -1;
    int v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_ + k];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    i_ += 4;
    return v;
  }
  // One UTF-8 sequence of two to four bytes at i_ (RFC 3629, section 4).
  bool Utf8() {
    auto at = [&](size_t k) { return i_ + k < s_.size() ? static_cast<unsigned char>(s_[i_ + k]) : 0; };
    auto tail = [](unsigned char b) { return (b & 0xC0) == 0x80; };
    unsigned char b0 = at(0), b1 = at(1);
    size_t len;
    if (b0 >= 0xC2 && b0 <= 0xDF) len = 2;
    else if (b0 == 0xE0) len = b1 >= 0xA0 && b1 <= 0xBF ? 3 : 0;
    else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) len = 3;
    else if (b0 == 0xED) len = b1 >= 0x80 && b1 <= 0x9F ? 3 : 0;
    else if (b0 == 0xF0) len = b1 >= 0x90 && b1 <= 0xBF ? 4 : 0;
    else if (b0 >= 0xF1 && b0 <= 0xF3) len = 4;
    else if (b0 == 0xF4) len = b1 >= 0x80 && b1 <= 0x8F ? 4 : 0;
    else len = 0;
    if (len == 0) return false;
    for (size_t k = 1; k < len; ++k)
      if (!tail(at(k))) return false;
    i_ += len;
    return true;
  }
  bool String() {
    ++i_;  // the opening quote
    while (i_ < s_.size()) {
      unsigned char c = s_[i_];
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;  // control characters (NUL among them) must be escaped
      if (c >= 0x80) {
        if (!Utf8()) return false;
        continue;
      }
      ++i_;
      if (c != '\\') continue;
      if (i_ >= s_.size()) return false;
      char e = s_[i_++];
      if (e == 'u') {
        int unit = Hex4();
        if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return false;
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          if (s_.substr(i_, 2) != "\\u") return false;
          i_ += 2;
          int low = Hex4();
          if (low < 0xDC00 || low > 0xDFFF) return false;
        }
      } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return false;
      }
    }
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::span<const OutcomeSpec> OutcomeTable() { return kOutcomes; }
const OutcomeSpec& Spec(Outcome outcome) { return kOutcomes[static_cast<size_t>(outcome)]; }
const char* ErrorType(Outcome outcome) { return Spec(outcome).error_type; }
int HttpStatus(Outcome outcome) { return Spec(outcome).http_status; }
std::span<const DocumentErrorType> DocumentErrorTypes() { return kDocumentErrorTypes; }

std::string OutcomeText(Outcome outcome, std::string_view detail) {
  const OutcomeSpec& spec = Spec(outcome);
  std::string text = spec.text;
  switch (spec.text_kind) {
    case TextKind::kNone:
    case TextKind::kFixed:
      return text;
    case TextKind::kPrefix:
      return text.append(detail);
    case TextKind::kTemplate: {
      size_t at = text.find("{}");
      return text.replace(at, 2, detail);
    }
  }
  return text;
}

bool StrictJsonText(std::string_view text) { return StrictScanner(text).Accept(); }

SandboxDocument ReadSandboxDocument(std::string_view doc, uint64_t max_result_bytes, bool truncated) {
  SandboxDocument out;
  Header header = ReadHeader(doc);
  if (!header.accepted) {
    out.error = Invalid(header.why);
    return out;
  }
  HeaderReader& f = header.fields;
  out.stages = std::move(f.stages);
  std::string_view rest = header.has_newline ? doc.substr(header.end + 1) : std::string_view();

  if (f.ok) {
    if (!header.has_newline) {
      out.error = Invalid("a success header without its result");
      return out;
    }
    // Exact: not a byte more than the cap, however the child wrote it.
    if (truncated || rest.size() > max_result_bytes) {
      out.outcome = Outcome::kResultTooLarge;
      out.error = OutcomeText(Outcome::kResultTooLarge, std::to_string(max_result_bytes));
      return out;
    }
    if (!StrictJsonText(rest)) {
      out.error = Invalid("its result is not strict JSON text");
      return out;
    }
    out.outcome = Outcome::kOk;
    out.result = rest;
    return out;
  }

  if (truncated || !rest.empty()) {
    out.error = Invalid("bytes after an error header");
    return out;
  }
  const DocumentErrorType* claimed = nullptr;
  for (const DocumentErrorType& type : kDocumentErrorTypes)
    if (f.error_type == type.error_type) claimed = &type;
  if (!claimed) {
    out.error = Invalid("an error_type that is not one of the script's outcomes");
    return out;
  }
  if (f.has_traceback && !claimed->keeps_traceback) {
    out.error = Invalid("a traceback with an error_type that has none");
    return out;
  }
  const OutcomeSpec& spec = Spec(claimed->outcome);
  out.outcome = claimed->outcome;
  if (claimed->outcome == Outcome::kCrashed) {
    out.error = OutcomeText(Outcome::kCrashed, claimed->crash_detail);
  } else if (claimed->keeps_error) {
    if (f.error.rfind(spec.text, 0) != 0) {
      out.outcome = Outcome::kCrashed;
      out.error = Invalid("an error text that does not start as its error_type's does");
      return out;
    }
    out.error = std::move(f.error);
  } else {
    // A fixed text: the server's own words, whatever the document said.
    out.error = OutcomeText(claimed->outcome, std::to_string(max_result_bytes));
  }
  if (claimed->keeps_traceback) out.traceback = std::move(f.traceback);
  return out;
}

bool DocumentComplete(std::string_view doc) {
  Header header = ReadHeader(doc);
  if (!header.accepted) return false;
  return !header.fields.ok || header.has_newline;
}

}  // namespace wj
