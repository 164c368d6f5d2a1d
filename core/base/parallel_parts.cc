#include "core/base/parallel_parts.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace hfshim {

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
  const int n = static_cast<int>(std::min<uint64_t>(std::max(parallel, 1), parts));
  std::vector<std::thread> threads;
  for (int w = 1; w < n; ++w) threads.emplace_back(work, w);
  work(0);
  for (std::thread& t : threads) t.join();
  return first_error;
}

}  // namespace hfshim
