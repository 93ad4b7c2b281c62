#include "src/metrics.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace wj {

void Metrics::Histogram::Observe(double v) {
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (v <= kBuckets[i]) counts[i]++;
  count++;
  sum += v;
}

void Metrics::RecordRequest(const std::string& outcome, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[{outcome, status}]++;
  latency_.Observe(seconds);
}

void Metrics::CountRequest(const std::string& outcome, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[{outcome, status}]++;
}

void Metrics::RecordSetup(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  setup_.Observe(seconds);
}

std::string Metrics::Number(double v) {
  // Prometheus spells the infinities and NaN its own way.
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // The shortest text that reads back as the same double: a running sum
  // keeps every digit (ostream's default of 6 significant digits made
  // rate(_sum) of a long-running server move in steps).
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

namespace {
void RenderHistogram(std::ostringstream& out, const char* name, const char* help, const auto& h) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
  for (size_t i = 0; i < Metrics::kBuckets.size(); ++i)
    out << name << "_bucket{le=\"" << Metrics::Number(Metrics::kBuckets[i]) << "\"} " << h.counts[i] << "\n";
  out << name << "_bucket{le=\"+Inf\"} " << h.count << "\n";
  out << name << "_sum " << Metrics::Number(h.sum) << "\n" << name << "_count " << h.count << "\n";
}
}  // namespace

std::string Metrics::Render(const std::map<std::string, std::pair<std::string, double>>& gauges) const {
  std::ostringstream out;
  std::lock_guard<std::mutex> lock(mu_);
  out << "# HELP warmjail_requests_total Requests to /execute by outcome and HTTP status.\n"
      << "# TYPE warmjail_requests_total counter\n";
  for (const auto& [key, count] : requests_)
    out << "warmjail_requests_total{outcome=\"" << key.first << "\",status=\"" << key.second << "\"} " << count << "\n";
  RenderHistogram(out, "warmjail_request_duration_seconds", "Time from request to response for /execute.", latency_);
  RenderHistogram(out, "warmjail_sandbox_setup_seconds", "Time from hand-over to the zygote until the child started.", setup_);
  for (const auto& [name, help_value] : gauges) {
    bool counter = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    out << "# HELP " << name << " " << help_value.first << "\n# TYPE " << name << (counter ? " counter\n" : " gauge\n")
        << name << " " << Number(help_value.second) << "\n";
  }
  return out.str();
}

}  // namespace wj
