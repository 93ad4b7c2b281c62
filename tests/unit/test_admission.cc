#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "src/admission.h"

using namespace wj;

TEST_CASE("slots are handed out up to the limit, then requests wait, then they are refused") {
  Admission a(2, 1);
  auto s1 = a.Acquire();
  auto s2 = a.Acquire();
  REQUIRE(s1);
  REQUIRE(s2);
  CHECK(a.Running() == 2);
  std::atomic<bool> third_got{false};
  std::thread waiter([&] {
    auto s3 = a.Acquire();
    third_got = s3.has_value();
  });
  while (a.Waiting() != 1) std::this_thread::yield();
  CHECK_FALSE(a.Acquire().has_value());  // queue of 1 is full
  s1.reset();
  waiter.join();
  CHECK(third_got);
  CHECK(a.Running() == 1);
}

TEST_CASE("waiters are served first come, first served") {
  Admission a(1, 8);
  auto holder = a.Acquire();
  std::vector<int> order;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto slot = a.Acquire();
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(i);
    });
    while (a.Waiting() != static_cast<unsigned>(i + 1)) std::this_thread::yield();
  }
  holder.reset();
  for (auto& t : threads) t.join();
  CHECK(order == std::vector<int>{0, 1, 2, 3});
}
