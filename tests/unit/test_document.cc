// The sandbox-document reader (src/document.h) against hostile documents,
// and the runner's vocabulary against the server's table.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <sstream>

#include "src/document.h"

namespace wj::embed {
extern const std::string_view kRunnerSource;
}

using namespace wj;

namespace {
constexpr uint64_t kCap = 100;

SandboxDocument Read(const std::string& doc, uint64_t cap = kCap, bool truncated = false) {
  return ReadSandboxDocument(doc, cap, truncated);
}

bool IsInvalid(const SandboxDocument& d) {
  return d.outcome == Outcome::kCrashed && d.error.rfind("Script crashed: it wrote an invalid result document (", 0) == 0;
}

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}
}  // namespace

TEST_CASE("a success document: stages and the result's text, passed through as is") {
  SandboxDocument d = Read("{\"stages\":[[\"forked\",1.5],[\"runner\",0]],\"ok\":true}\n{\"sum\": 30}");
  REQUIRE(d.outcome == Outcome::kOk);
  CHECK(d.result == "{\"sum\": 30}");
  REQUIRE(d.stages.size() == 2);
  CHECK(d.stages[0].name == "forked");
  CHECK(d.stages[0].ms == 1.5);
  CHECK(d.stages[1].name == "runner");
  CHECK(Read("{\"ok\":true}\n  [1, 2.5e3, \"\\u00e9\\ud83d\\ude00\", null, true, {}]  \n").outcome == Outcome::kOk);
}

TEST_CASE("the runner's error documents give the script's outcome") {
  SandboxDocument d = Read(
      R"({"stages":[["forked",1]],"ok": false, "error_type": "runtime_error", "error": "Script execution error: ValueError: x", "traceback": "T"})");
  CHECK(d.outcome == Outcome::kRuntimeError);
  CHECK(d.error == "Script execution error: ValueError: x");
  CHECK(d.traceback == "T");
  CHECK(d.stages.size() == 1);
  d = Read(R"({"ok": false, "error_type": "no_main", "error": "ERROR: No main() function found"})");
  CHECK(d.outcome == Outcome::kNoMain);
  CHECK(d.error == "ERROR: No main() function found");
  d = Read(R"j({"ok": false, "error_type": "syntax_error", "error": "Syntax error in script: invalid syntax (line 2)"})j");
  CHECK(d.outcome == Outcome::kSyntaxError);
  CHECK(d.error == "Syntax error in script: invalid syntax (line 2)");
}

TEST_CASE("fixed texts are the server's, whatever the document says") {
  SandboxDocument d = Read(R"({"ok": false, "error_type": "memory_limit", "error": "anything"})");
  CHECK(d.outcome == Outcome::kMemoryLimit);
  CHECK(d.error == "Script execution error: Memory limit exceeded");
  d = Read(R"({"ok": false, "error_type": "result_too_large", "error": "Result is 5 bytes"})");
  CHECK(d.outcome == Outcome::kResultTooLarge);
  CHECK(d.error == "Result is larger than the cap of 100 bytes of JSON");
}

TEST_CASE("an error_type the script cannot have is crashed, never a server error") {
  for (std::string type : {"setup_failed", "internal", "unavailable", "timeout", "crashed", "ok", "", "Runtime_error"}) {
    CAPTURE(type);
    SandboxDocument d = Read(R"({"ok":false,"error_type":")" + type + R"(","error":"Sandbox could not be started"})");
    CHECK(IsInvalid(d));
    CHECK(d.error.find("error_type") != std::string::npos);
    CHECK(HttpStatus(d.outcome) == 422);
  }
  SandboxDocument d = Read(R"({"ok":false,"error_type":"runner_failed","error":"Internal error"})");
  CHECK(d.outcome == Outcome::kCrashed);
  CHECK(d.error == "Script crashed: the runner in its sandbox failed");
}

TEST_CASE("an error text must start as its error_type's does") {
  CHECK(IsInvalid(Read(R"({"ok":false,"error_type":"runtime_error","error":"Sandbox could not be started"})")));
  CHECK(IsInvalid(Read(R"({"ok":false,"error_type":"syntax_error","error":""})")));
}

TEST_CASE("the header's shape: known keys once, the right types, flat stages") {
  const char* bad[] = {
      R"({"ok":true,"extra":1})" "\n1",
      R"({"ok":true,"ok":true})" "\n1",
      R"({"ok":1})" "\n1",
      R"({"ok":"true"})" "\n1",
      R"({"stages":[]})" "\n1",
      R"({"ok":true,"error":"x"})" "\n1",
      R"({"ok":false,"error_type":"runtime_error"})",
      R"({"ok":false,"error":"Script execution error: x"})",
      R"({"ok":false,"error_type":"no_main","error":"ERROR: No main() function found","traceback":"t"})",
      R"({"ok":false,"error_type":["runtime_error"],"error":"x"})",
      R"({"stages":[["forked"]],"ok":true})" "\n1",
      R"({"stages":[["forked",1,2]],"ok":true})" "\n1",
      R"({"stages":[[1,"forked"]],"ok":true})" "\n1",
      R"({"stages":["forked",1],"ok":true})" "\n1",
      R"({"stages":[["Forked",1]],"ok":true})" "\n1",
      R"({"stages":[["fork ed",1]],"ok":true})" "\n1",
      R"({"stages":[["",1]],"ok":true})" "\n1",
      R"({"stages":[["forked",-1]],"ok":true})" "\n1",
      R"({"stages":[["forked",1e300]],"ok":true})" "\n1",
      R"({"stages":[["forked",null]],"ok":true})" "\n1",
      R"({"stages":[[["forked"],1]],"ok":true})" "\n1",
      R"({"stages":{"forked":1},"ok":true})" "\n1",
      R"({"stages":[["forked",{"a":1}]],"ok":true})" "\n1",
      R"([{"ok":true}])" "\n1",
      R"({"ok":true} {"ok":true})" "\n1",
      R"(not json)",
      "\xEF\xBB\xBF{\"ok\":true}\n1",
      "{\"ok\":true\0}\n1",
      "{\"ok\":true}",
  };
  for (const char* doc : bad) {
    CAPTURE(doc);
    CHECK(IsInvalid(Read(doc)));
  }
  std::string long_name = "{\"stages\":[[\"" + std::string(kMaxStageNameBytes + 1, 'a') + "\",1]],\"ok\":true}\n1";
  CHECK(IsInvalid(Read(long_name)));
  std::string ok_name = "{\"stages\":[[\"" + std::string(kMaxStageNameBytes, 'a') + "\",1]],\"ok\":true}\n1";
  CHECK(Read(ok_name).outcome == Outcome::kOk);
}

TEST_CASE("stages deeper than pairs are refused at once, however deep") {
  // The audit's document: 150,000 levels crashed the server's recursive copy.
  for (size_t depth : {4, 1000, 150000, 2000000}) {
    CAPTURE(depth);
    std::string doc = "{\"stages\":" + std::string(depth, '[') + std::string(depth, ']') + ",\"ok\":true}\n1";
    if (doc.size() - 2 > kMaxHeaderBytes) {
      CHECK(Read(doc).error == "Script crashed: it wrote an invalid result document (its header is longer than 262144 bytes)");
    } else {
      SandboxDocument d = Read(doc);
      CHECK(IsInvalid(d));
      CHECK(d.stages.size() <= 1);
    }
    CHECK_FALSE(DocumentComplete(doc));
  }
  std::string unclosed = "{\"stages\":" + std::string(100000, '[');
  CHECK(IsInvalid(Read(unclosed)));
}

TEST_CASE("the stage count is bounded") {
  std::string stages = Repeat("[\"s\",1],", kMaxStages);
  stages.pop_back();
  CHECK(Read("{\"stages\":[" + stages + "],\"ok\":true}\n1").stages.size() == kMaxStages);
  CHECK(IsInvalid(Read("{\"stages\":[" + stages + ",[\"s\",1]],\"ok\":true}\n1")));
}

TEST_CASE("the header is bounded in bytes; error fields to their caps") {
  std::string big(kMaxHeaderBytes, 'a');
  SandboxDocument d = Read(R"({"ok":false,"error_type":"runtime_error","error":"Script execution error: )" + big + "\"}");
  CHECK(d.error == "Script crashed: it wrote an invalid result document (its header is longer than 262144 bytes)");
  // Within the header's bound but over the fields': kept up to the caps, whole characters only.
  std::string e = "Script execution error: " + Repeat("\xC3\xA9", kMaxErrorBytes);
  std::string tb = Repeat("\xE2\x82\xAC", kMaxTracebackBytes);
  d = Read(R"({"ok":false,"error_type":"runtime_error","error":")" + e + R"(","traceback":")" + tb + "\"}");
  REQUIRE(d.outcome == Outcome::kRuntimeError);
  CHECK(d.error.size() == kMaxErrorBytes);
  CHECK(d.error.rfind("Script execution error: \xC3\xA9", 0) == 0);
  CHECK(d.traceback.size() <= kMaxTracebackBytes);
  CHECK(d.traceback.size() > kMaxTracebackBytes - 3);
  CHECK(d.traceback.size() % 3 == 0);
}

TEST_CASE("the result cap is exact") {
  std::string header = "{\"stages\":[[\"forked\",1]],\"ok\":true}\n";
  std::string at_cap = "\"" + std::string(kCap - 2, 'x') + "\"";
  SandboxDocument d = Read(header + at_cap);
  CHECK(d.outcome == Outcome::kOk);
  CHECK(d.result.size() == kCap);
  d = Read(header + at_cap + " ");
  CHECK(d.outcome == Outcome::kResultTooLarge);
  CHECK(d.error == "Result is larger than the cap of 100 bytes of JSON");
  CHECK(d.stages.size() == 1);
  // Cut off by the server: too large if it was a success, not if it was not.
  CHECK(Read(header + "1", kCap, true).outcome == Outcome::kResultTooLarge);
  CHECK(IsInvalid(Read(R"({"ok":false,"error_type":"no_main","error":"x"})", kCap, true)));
  CHECK(DocumentCap(kCap) == kMaxHeaderBytes + 1 + kCap + 1);
}

TEST_CASE("result text that is not strict JSON is refused") {
  const std::string bad[] = {
      "\xEF\xBB\xBF" "1",           // a byte-order mark: nlohmann::json would skip it
      std::string("7\0, \"x\": 1", 10),
      std::string("\"a\0b\"", 5),
      "\"\xFF\"",
      "\"\xC0\xAF\"",               // overlong
      "\"\xED\xA0\x80\"",           // a surrogate in UTF-8
      "\"\xF4\x90\x80\x80\"",       // beyond U+10FFFF
      "\"\xE2\x82\"",               // cut short
      "\"\\ud800\"",                // a lone surrogate escape
      "\"\\udc00\\ud800\"",
      "\"\\u12\"",
      "\"\\x41\"",
      "\"tab\there\"",
      "1e999", "-1E+400", std::string(400, '9'),  // beyond a double: an overflow, not infinity
      "[1, NaN]", "Infinity", "-", "01", "1.", ".5", "1e", "+1", "tru", "nul",
      "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "[1 2]", "[", "]", "{", "\"", "",
      "   ", "1 2", "[1]]", "{}}", "[1] x", "1\n{", "/* c */ 1",
  };
  for (const std::string& text : bad) {
    CAPTURE(text);
    CHECK_FALSE(StrictJsonText(text));
    CHECK(IsInvalid(Read("{\"ok\":true}\n" + text, 1 << 20)));
  }
  const std::string good[] = {
      "0", "-0.5e-3", "1E+2", "\"\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\"", "\"\\uD83D\\uDE00\"",
      "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"", "[]", "{}", " [ { \"a\" : [ ] } , null ] ", "123456789012345678901234567890", "1e308", "1e-999",
  };
  for (const std::string& text : good) {
    CAPTURE(text);
    CHECK(StrictJsonText(text));
  }
  std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  CHECK(StrictJsonText(deep));
  CHECK_FALSE(StrictJsonText(deep + "]"));
}

TEST_CASE("a document is complete once its header, and for a success its newline, arrived") {
  CHECK(DocumentComplete("{\"ok\":true}\n"));
  CHECK(DocumentComplete("{\"ok\":true}\n[1"));  // the child closed its end: the reader says crashed
  CHECK_FALSE(DocumentComplete("{\"ok\":true}"));
  CHECK(DocumentComplete(R"({"ok":false,"error_type":"no_main","error":"x"})"));
  CHECK_FALSE(DocumentComplete(R"({"ok":false,"error_type":"no_main")"));
  CHECK_FALSE(DocumentComplete(""));
}

TEST_CASE("the vocabulary: one row per outcome, texts built from it") {
  CHECK(OutcomeTable().size() == 11);
  for (const OutcomeSpec& spec : OutcomeTable()) {
    CAPTURE(spec.error_type);
    CHECK(&Spec(spec.outcome) == &spec);
    CHECK((spec.outcome == Outcome::kOk) == (spec.http_status == 200));
    CHECK((spec.text_kind == TextKind::kTemplate) == (std::string_view(spec.text).find("{}") != std::string_view::npos));
  }
  CHECK(std::string(ErrorType(Outcome::kCrashed)) == "crashed");
  CHECK(HttpStatus(Outcome::kUnavailable) == 503);
  CHECK(HttpStatus(Outcome::kInternal) == 500);
  CHECK(OutcomeText(Outcome::kTimeout, "2") == "Script execution timeout (2 seconds)");
  CHECK(OutcomeText(Outcome::kCrashed, "killed by signal SIGSEGV") == "Script crashed: killed by signal SIGSEGV");
  // What a sandbox may claim is a script's outcome, never a server's.
  for (const DocumentErrorType& type : DocumentErrorTypes()) {
    CAPTURE(type.error_type);
    CHECK(HttpStatus(type.outcome) == 422);
    CHECK(type.outcome != Outcome::kTimeout);
  }
}

// embed/runner.py writes the document; its constants must be the table's.
TEST_CASE("runner.py's document vocabulary is the server's") {
  std::map<std::string, std::string> constants;
  std::istringstream source{std::string(wj::embed::kRunnerSource)};
  std::regex assignment(R"re(^([A-Z_]+) = b?(?:"(.*)"|'(.*)'|(\d+))$)re");
  for (std::string line; std::getline(source, line);) {
    std::smatch m;
    if (std::regex_match(line, m, assignment))
      constants[m[1]] = m[2].matched ? m[2].str() : m[3].matched ? m[3].str() : m[4].str();
  }
  auto upper = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  for (const DocumentErrorType& type : DocumentErrorTypes()) {
    if (type.outcome == Outcome::kCrashed) continue;  // written by embed/worker.cc, checked below
    std::string name = upper(type.error_type);
    CAPTURE(name);
    REQUIRE(constants.count(name));
    CHECK(constants[name] == type.error_type);
    REQUIRE(constants.count(name + "_TEXT"));
    CHECK(constants[name + "_TEXT"] == Spec(type.outcome).text);
  }
  CHECK(constants["KEY_OK"] == kKeyOk);
  CHECK(constants["KEY_ERROR_TYPE"] == kKeyErrorType);
  CHECK(constants["KEY_ERROR"] == kKeyError);
  CHECK(constants["KEY_TRACEBACK"] == kKeyTraceback);
  CHECK(constants["SUCCESS_HEADER"] == "{\"ok\":true}\\n");
  CHECK(constants["MAX_ERROR_BYTES"] == std::to_string(kMaxErrorBytes));
  CHECK(constants["MAX_TRACEBACK_BYTES"] == std::to_string(kMaxTracebackBytes));
  // Every error document goes through _error() with one of those constants.
  CHECK(std::string_view(wj::embed::kRunnerSource).find("_error(\"") == std::string_view::npos);
  // The runner's success header is one the reader accepts.
  CHECK(Read("{\"ok\":true}\n1").outcome == Outcome::kOk);
}

#ifdef WARMJAIL_SOURCE_DIR
// The worker writes documents too (FailureDoc in embed/worker.cc).
TEST_CASE("embed/worker.cc writes only error_types the reader takes") {
  std::ifstream in(std::string(WARMJAIL_SOURCE_DIR) + "/embed/worker.cc");
  REQUIRE(in);
  std::string source((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::regex call(R"re(FailureDoc\("([a-z_]+)")re");
  int found = 0;
  for (auto it = std::sregex_iterator(source.begin(), source.end(), call); it != std::sregex_iterator(); ++it) {
    std::string type = (*it)[1];
    CAPTURE(type);
    bool known = false;
    for (const DocumentErrorType& t : DocumentErrorTypes()) known |= type == t.error_type;
    CHECK(known);
    ++found;
  }
  CHECK(found >= 2);
}
#endif
