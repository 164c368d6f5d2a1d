#include "core/base/parallel_parts.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace hfshim {

void RunOnWorkers(int count, const std::function<void(int worker)>& body) {
  std::vector<std::thread> threads;
  threads.reserve(count > 1 ? count - 1 : 0);
  for (int w = 1; w < count; ++w) {
    try {
      threads.emplace_back(body, w);
    } catch (const std::system_error&) {
      break;  // no more threads to be had: the ones running share out the work
    }
  }
  body(0);
  for (std::thread& t : threads) t.join();
}

absl::Status RunParts(uint64_t parts, int parallel,
                      const std::function<absl::Status(uint64_t part, int worker)>& part) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  absl::Status first_error;  // guarded by mu
  auto work = [&](int worker) {
    for (uint64_t i = next++; i < parts && !failed.load(); i = next++) {
      absl::Status s = part(i, worker);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = std::move(s);
        failed = true;
        return;
      }
    }
  };
  RunOnWorkers(static_cast<int>(std::min<uint64_t>(std::max(parallel, 1), parts)), work);
  return first_error;
}

}  // namespace hfshim
