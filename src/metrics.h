// Prometheus metrics: counters by outcome and status, a latency histogram,
// and gauges read at scrape time.
#pragma once
#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace wj {

class Metrics {
 public:
  void RecordRequest(const std::string& outcome, int status, double seconds);
  // A request answered before it reached the handler that times it (refused
  // by the HTTP layer or for its token): counted, not timed.
  void CountRequest(const std::string& outcome, int status);
  void RecordSetup(double seconds);
  // gauges: name -> (help, value)
  std::string Render(const std::map<std::string, std::pair<std::string, double>>& gauges) const;

  // A sample's value as /metrics writes it: every digit a double holds.
  static std::string Number(double v);

  static constexpr std::array<double, 14> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                      0.25,  0.5,    1,     2.5,  5,     10,  30};

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};
    uint64_t count = 0;
    double sum = 0;
    void Observe(double v);
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram latency_;
  Histogram setup_;
};

}  // namespace wj
