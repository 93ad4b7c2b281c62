#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>

#include "jail/policy.h"
#include "src/config.h"

using namespace wj;

TEST_CASE("defaults follow docs/API.md's limits") {
  Config c;
  REQUIRE_FALSE(c.Finalize().has_value());
  CHECK(c.limits.timeout_s == 30);
  CHECK(c.limits.cpu_time_s == 30);
  CHECK(c.limits.memory_mb == 512);
  CHECK(c.limits.max_procs == 32);
  CHECK(c.limits.tmp_mb == 64);
  CHECK(c.limits.max_output_bytes == 1u << 20);
  CHECK(c.limits.max_result_bytes == 16u << 20);
  CHECK(c.max_body_bytes == 1u << 20);
  CHECK(c.queue == 64);
  CHECK(c.workers >= 1);
  CHECK(c.port == 8080);
}

TEST_CASE("CPU time follows a lowered wall-clock limit unless set") {
  Config c;
  c.limits.timeout_s = 5;
  REQUIRE_FALSE(c.Finalize().has_value());
  CHECK(c.limits.cpu_time_s == 5);
  Config d;
  d.limits.timeout_s = 5;
  d.limits.cpu_time_s = 2;
  REQUIRE_FALSE(d.Finalize().has_value());
  CHECK(d.limits.cpu_time_s == 2);
}

TEST_CASE("invalid configuration is refused with the flag's name") {
  Config c;
  c.limits.timeout_s = 0;
  CHECK(c.Finalize().value().find("--timeout") != std::string::npos);
  Config p;
  p.port = 70000;
  CHECK(p.Finalize().value().find("--port") != std::string::npos);
}

TEST_CASE("request limits are clamped by the server maxima") {
  Limits max;
  max.timeout_s = 10;
  max.cpu_time_s = 10;
  max.memory_mb = 256;
  EffectiveLimits none = Clamp(max, std::nullopt, std::nullopt);
  CHECK(none.timeout_s == 10);
  CHECK(none.memory_mb == 256);
  EffectiveLimits lower = Clamp(max, 2.0, 64);
  CHECK(lower.timeout_s == 2);
  CHECK(lower.cpu_time_s == 2);
  CHECK(lower.memory_mb == 64);
  EffectiveLimits higher = Clamp(max, 50.0, 1024);
  CHECK(higher.timeout_s == 10);
  CHECK(higher.memory_mb == 256);
}

TEST_CASE("timeouts are named as the contract writes them") {
  CHECK(FormatSeconds(2) == "2");
  CHECK(FormatSeconds(1.5) == "1.5");
  CHECK(FormatSeconds(30) == "30");
  CHECK(FormatSeconds(0.25) == "0.25");
}

TEST_CASE("the API token can come from a file, first line, trailing space dropped") {
  char path[] = "/tmp/warmjail-token-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, "s3cret \nignored\n", 16) == 16);
  ::close(fd);
  Config c;
  c.api_token_file = path;
  REQUIRE_FALSE(c.Finalize().has_value());
  CHECK(c.api_token == "s3cret");
  Config both;
  both.api_token = "x";
  both.api_token_file = path;
  CHECK(both.Finalize().value().find("exclude") != std::string::npos);
  Config missing;
  missing.api_token_file = "/nonexistent/token";
  CHECK(missing.Finalize().value().find("cannot read") != std::string::npos);
  ::unlink(path);
}

TEST_CASE("the API token from the flag or the environment: the file's rule, trailing whitespace dropped") {
  Config c;
  c.api_token = "s3cret\r\n";
  REQUIRE_FALSE(c.Finalize().has_value());
  CHECK(c.api_token == "s3cret");
  Config spaces;
  spaces.api_token = "s3 cret \t\n";
  REQUIRE_FALSE(spaces.Finalize().has_value());
  CHECK(spaces.api_token == "s3 cret");
  Config none;
  REQUIRE_FALSE(none.Finalize().has_value());
  CHECK(none.api_token == "");  // no token: /execute is open
  Config blank;
  blank.api_token = "\n";
  CHECK(blank.Finalize() == std::optional<std::string>("--api-token (WARMJAIL_API_TOKEN) holds no token"));
  Config control;
  control.api_token = "ab\ncd";
  CHECK(control.Finalize() ==
        std::optional<std::string>("--api-token (WARMJAIL_API_TOKEN) holds a control character inside the token"));
  std::string token = "x\t \r\n";
  CHECK_FALSE(TrimApiToken(&token).has_value());
  CHECK(token == "x");
}

TEST_CASE("the sandbox uid range: parsed, never root, large enough for every live sandbox") {
  Config c;
  c.workers = 2;
  REQUIRE_FALSE(c.Finalize().has_value());
  CHECK(c.sandbox_uid_first == 2000000000u);
  CHECK(c.sandbox_uid_count == 65536u);
  Config off;
  off.sandbox_uid_range = "0:0";
  REQUIRE_FALSE(off.Finalize().has_value());
  CHECK(off.sandbox_uid_count == 0u);
  for (const char* bad : {"100", "0:100", "4294967290:100", "100:x", "100:10:1"}) {
    Config b;
    b.sandbox_uid_range = bad;
    CAPTURE(bad);
    CHECK(b.Finalize().value().find("--sandbox-uid-range") != std::string::npos);
  }
  Config small;
  small.workers = 4;
  small.spares = 4;
  small.sandbox_uid_range = "100000:10";  // 2 * (4 + 2 * 4) = 24 needed
  CHECK(small.Finalize().value().find("needs at least 24") != std::string::npos);
}

TEST_CASE("the modes have one table of names") {
  CHECK(embed::ModeFromName("zygote") == embed::Mode::kZygote);
  CHECK(embed::ModeFromName("cold") == embed::Mode::kCold);
  CHECK_FALSE(embed::ModeFromName("lukewarm").has_value());
  CHECK_FALSE(embed::ModeFromName("").has_value());
  for (const embed::NamedMode& entry : embed::kModeNames) CHECK(embed::ModeFromName(embed::ModeName(entry.mode)) == entry.mode);
}

TEST_CASE("spares are resolved once, by Finalize") {
  Config c;
  c.workers = 3;
  REQUIRE_FALSE(c.Finalize().has_value());
  CHECK(c.spares == 3);
  Config set;
  set.workers = 3;
  set.spares = 5;
  REQUIRE_FALSE(set.Finalize().has_value());
  CHECK(set.spares == 5);
  Config cold;
  cold.workers = 3;
  cold.spares = 5;
  cold.mode = embed::Mode::kCold;
  REQUIRE_FALSE(cold.Finalize().has_value());
  CHECK(cold.spares == 0);
  CHECK(ZygoteOptionsFor(cold, nullptr).spares == 0);
  CHECK(ZygoteOptionsFor(cold, nullptr).mode == embed::Mode::kCold);
  Config none;
  none.workers = 3;
  none.spares = 0;  // --spares 0: none kept, not the default
  REQUIRE_FALSE(none.Finalize().has_value());
  CHECK(none.spares == 0u);
  CHECK(ZygoteOptionsFor(none, nullptr).spares == 0);
}

TEST_CASE("the server, the zygote and the jail start from the same defaults") {
  Config c;
  REQUIRE_FALSE(c.Finalize().has_value());
  embed::ZygoteOptions from_config = ZygoteOptionsFor(c, nullptr);
  embed::ZygoteOptions plain;
  CHECK(from_config.sandbox_uid == plain.sandbox_uid);
  CHECK(from_config.memory_bytes == plain.memory_bytes);
  CHECK(from_config.cpu_seconds == plain.cpu_seconds);
  CHECK(from_config.tmp_bytes == plain.tmp_bytes);
  CHECK(from_config.max_procs == plain.max_procs);
  CHECK(from_config.spares == c.workers);
  CHECK(from_config.cgroup_version == 0);
  jail::JailPolicy policy;
  CHECK(policy.sandbox_uid == c.sandbox_uid);
  CHECK(policy.sandbox_gid == c.sandbox_uid);
  jail::ChildLimits limits;
  CHECK(limits.cpu_seconds == from_config.cpu_seconds);
  CHECK(limits.tmp_bytes == from_config.tmp_bytes);
  CHECK(limits.file_size_bytes == from_config.tmp_bytes);
  CHECK(limits.max_procs == from_config.max_procs);
  CHECK(c.sandbox_uid == 65534);  // "nobody", as docs/SECURITY.md says
}

TEST_CASE("switching isolation off reaches the zygote as every jail layer off") {
  Config c;
  c.disable_isolation = true;
  c.allow_degraded = true;
  REQUIRE_FALSE(c.Finalize().has_value());
  jail::Layers layers = ZygoteOptionsFor(c, nullptr).layers;
  for (const jail::NamedLayer& entry : jail::kLayerNames)
    if (jail::LayerSwitch flag = jail::SwitchOf(entry.layer)) CHECK_FALSE(layers.*flag);
}

TEST_CASE("--timeout and --cpu-time are at most a day") {
  Config t;
  t.limits.timeout_s = kMaxLimitSeconds;
  CHECK_FALSE(t.Finalize().has_value());
  Config over;
  over.limits.timeout_s = 3000000;
  CHECK(over.Finalize().value() == "--timeout must be at most 86400 seconds");
  Config cpu;
  cpu.limits.cpu_time_s = 1e10;
  CHECK(cpu.Finalize().value() == "--cpu-time must be at most 86400 seconds");
}
