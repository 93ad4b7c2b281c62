#include <doctest/doctest.h>

#include "src/metrics.h"

using namespace wj;

TEST_CASE("/metrics writes sums and gauges with every digit") {
  Metrics m;
  m.RecordRequest("ok", 200, 123456.789);
  m.RecordSetup(0.0025);
  std::string text = m.Render({{"warmjail_test_gauge", {"A gauge.", 1234567.25}},
                               {"warmjail_test_total", {"A counter.", 3}}});
  CHECK(text.find("\nwarmjail_request_duration_seconds_sum 123456.789\n") != std::string::npos);
  CHECK(text.find("\nwarmjail_sandbox_setup_seconds_sum 0.0025\n") != std::string::npos);
  CHECK(text.find("\nwarmjail_test_gauge 1234567.25\n") != std::string::npos);
  CHECK(text.find("\nwarmjail_test_total 3\n") != std::string::npos);
  CHECK(text.find("\nwarmjail_sandbox_setup_seconds_bucket{le=\"0.0025\"} 1\n") != std::string::npos);
  CHECK(text.find("\nwarmjail_request_duration_seconds_bucket{le=\"+Inf\"} 1\n") != std::string::npos);
}
