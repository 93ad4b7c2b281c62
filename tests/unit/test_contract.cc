#include <doctest/doctest.h>

#include "src/contract.h"

using namespace wj;

namespace {
ApiError ErrorOf(const std::string& body, Limits max = {}) {
  auto parsed = ParseExecuteRequest(body, max);
  REQUIRE(std::holds_alternative<ApiError>(parsed));
  return std::get<ApiError>(parsed);
}
ExecuteRequest RequestOf(const std::string& body, Limits max = {}) {
  auto parsed = ParseExecuteRequest(body, max);
  REQUIRE(std::holds_alternative<ExecuteRequest>(parsed));
  return std::get<ExecuteRequest>(parsed);
}
}  // namespace

TEST_CASE("a body that is not a JSON object is invalid_request") {
  for (std::string body : {"", "not json", "[1,2]", "\"script\"", "42", "null", "{\"script\": \"x\""}) {
    ApiError e = ErrorOf(body);
    CHECK(e.status == 400);
    CHECK(e.type == "invalid_request");
    CHECK(e.message == "Request body must be a JSON object");
  }
}

TEST_CASE("a body that is not UTF-8 is invalid_request") {
  ApiError e = ErrorOf("{\"script\": \"\xff\xfe\"}");
  CHECK(e.status == 400);
  CHECK(e.message == "Request body must be a JSON object");
}

TEST_CASE("script missing or not a string") {
  for (std::string body : {"{}", "{\"script\": 1}", "{\"script\": null}", "{\"script\": [\"a\"]}", "{\"input\": 1}"}) {
    ApiError e = ErrorOf(body);
    CHECK(e.status == 400);
    CHECK(e.message == "Request must contain 'script' field");
  }
}

TEST_CASE("unknown top-level field names the field") {
  ApiError e = ErrorOf(R"({"script": "x", "scirpt": "y"})");
  CHECK(e.status == 400);
  CHECK(e.message.find("'scirpt'") != std::string::npos);
}

TEST_CASE("input is kept as JSON and its absence is distinct from null") {
  CHECK_FALSE(RequestOf(R"({"script": "x"})").input_json.has_value());
  CHECK(RequestOf(R"({"script": "x", "input": null})").input_json == "null");
  CHECK(RequestOf(R"({"script": "x", "input": {"a": [1, 2.5]}})").input_json == R"({"a": [1, 2.5]})");
}

TEST_CASE("input is the client's own text: key order and big integers survive") {
  // A round trip through nlohmann::json sorted the keys and made integers
  // past 64 bits doubles; main() gets what json.loads makes of this text.
  CHECK(RequestOf(R"({"script": "x", "input": {"zeta": 1, "alpha": 2, "mid": 3}})").input_json ==
        R"({"zeta": 1, "alpha": 2, "mid": 3})");
  CHECK(RequestOf(R"({"input": 18446744073709551616, "script": "x"})").input_json == "18446744073709551616");
  CHECK(RequestOf(R"({"script": "x", "input": 123456789012345678901234567890})").input_json ==
        "123456789012345678901234567890");
  CHECK(RequestOf(R"({"script":"x","input":-1.5e300})").input_json == "-1.5e300");
  CHECK(RequestOf(R"({"script": "x", "input": "a \" } ] , b"})").input_json == R"("a \" } ] , b")");
  CHECK(RequestOf(R"({"script": "x", "input": [{"}": "]"}, [[]], {}] , "limits": {}})").input_json ==
        R"([{"}": "]"}, [[]], {}])");
  CHECK(RequestOf(" {\n \"script\" : \"x\" ,\n \"input\"\t:\ttrue\n}\n").input_json == "true");
  // A key written with escapes is the same key; of duplicates the last counts.
  CHECK(RequestOf(R"({"script": "x", "\u0069nput": {"b": 1, "a": 2}})").input_json == R"({"b": 1, "a": 2})");
  CHECK(RequestOf(R"({"script": "x", "input": 1, "input": [2, 1]})").input_json == "[2, 1]");
}

TEST_CASE("limits within the maxima are accepted") {
  ExecuteRequest r = RequestOf(R"({"script": "x", "limits": {"timeout_s": 2.5, "memory_mb": 100}})");
  CHECK(r.timeout_s == doctest::Approx(2.5));
  CHECK(r.memory_mb == 100u);
}

TEST_CASE("bad limits are 400 and say which field and why") {
  struct Case {
    const char* body;
    const char* mentions;
  } cases[] = {
      {R"({"script": "x", "limits": {"timeout_s": 31}})", "timeout_s"},
      {R"({"script": "x", "limits": {"timeout_s": 0}})", "greater than 0"},
      {R"({"script": "x", "limits": {"timeout_s": -1}})", "greater than 0"},
      {R"({"script": "x", "limits": {"timeout_s": "5"}})", "number"},
      {R"({"script": "x", "limits": {"memory_mb": 513}})", "memory_mb"},
      {R"({"script": "x", "limits": {"memory_mb": 1.5}})", "integer"},
      {R"({"script": "x", "limits": {"memory_mb": 0}})", "greater than 0"},
      {R"({"script": "x", "limits": {"memory_mb": -5}})", "greater than 0"},
      {R"({"script": "x", "limits": {"cpu": 1}})", "limits.cpu"},
      {R"({"script": "x", "limits": 5})", "object"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    ApiError e = ErrorOf(c.body);
    CHECK(e.status == 400);
    CHECK(e.type == "invalid_request");
    CHECK(e.message.find(c.mentions) != std::string::npos);
  }
}

TEST_CASE("a success response has result, stdout, stderr and duration, no error") {
  SandboxResult r;
  r.outcome = Outcome::kOk;
  r.result_json = "{\"sum\": 30}";
  r.stdout_text = "x\n";
  JsonResponse resp = ToResponse(r);
  CHECK(resp.status == 200);
  CHECK(nlohmann::json::parse(SerializeResponse(resp))["result"]["sum"] == 30);
  CHECK(resp.body["stdout"] == "x\n");
  CHECK(resp.body["stderr"] == "");
  CHECK(resp.body.contains("duration_ms"));
  CHECK_FALSE(resp.body.contains("error"));
  CHECK_FALSE(resp.body.contains("stdout_truncated"));
}

TEST_CASE("every script error is 422 with error_type; stderr only once the script ran") {
  SandboxResult r;
  r.outcome = Outcome::kSyntaxError;
  r.error = "Syntax error in script: invalid syntax (line 1)";
  JsonResponse resp = ToResponse(r);
  CHECK(resp.status == 422);
  CHECK(resp.body["error_type"] == "syntax_error");
  CHECK(resp.body["stdout"] == "");
  CHECK_FALSE(resp.body.contains("stderr"));

  r.outcome = Outcome::kRuntimeError;
  r.script_ran = true;
  r.traceback = "Traceback";
  resp = ToResponse(r);
  CHECK(resp.body["error_type"] == "runtime_error");
  CHECK(resp.body["traceback"] == "Traceback");
  CHECK(resp.body.contains("stderr"));
}

TEST_CASE("statuses of the error table") {
  CHECK(HttpStatus(Outcome::kOk) == 200);
  for (Outcome o : {Outcome::kSyntaxError, Outcome::kNoMain, Outcome::kRuntimeError, Outcome::kNotJsonSerializable,
                    Outcome::kMemoryLimit, Outcome::kTimeout, Outcome::kCrashed, Outcome::kResultTooLarge})
    CHECK(HttpStatus(o) == 422);
  CHECK(HttpStatus(Outcome::kUnavailable) == 503);
  CHECK(HttpStatus(Outcome::kInternal) == 500);
  CHECK(std::string(ErrorType(Outcome::kNotJsonSerializable)) == "not_json_serializable");
}

TEST_CASE("truncation flags appear only when set, and bad UTF-8 output is replaced, not fatal") {
  SandboxResult r;
  r.outcome = Outcome::kOk;
  r.result_json = "null";
  r.stdout_text = "ok\xff";
  r.stdout_truncated = true;
  JsonResponse resp = ToResponse(r);
  CHECK(resp.body["stdout_truncated"] == true);
  CHECK_FALSE(resp.body.contains("stderr_truncated"));
  std::string text = DumpBody(resp.body);
  CHECK(text.find("ok\xef\xbf\xbd") != std::string::npos);
}

TEST_CASE("the result's JSON text is passed through unparsed: big integers survive") {
  SandboxResult r;
  r.outcome = Outcome::kOk;
  r.result_json = "1180591620717411303424";
  std::string body = SerializeResponse(ToResponse(r));
  CHECK(body.rfind("{\"result\":1180591620717411303424,", 0) == 0);
  CHECK(nlohmann::json::accept(body));
}

TEST_CASE("a body nested deeper than the limit is refused before it is parsed") {
  std::string deep = "{\"script\": \"x\", \"input\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  ApiError e = ErrorOf(deep);
  CHECK(e.status == 400);
  CHECK(e.message.find("deeper than 512") != std::string::npos);
  std::string ok = "{\"script\": \"x\", \"input\": " + std::string(500, '[') + std::string(500, ']') + "}";
  CHECK(RequestOf(ok).input_json.has_value());
  CHECK(NestingDepth(R"({"a": "[[[[", "b": [1, {"c": "\\"}]})") == 3);
}
