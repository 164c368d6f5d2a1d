// ByteBudget: the per-process memory buffer (HFSHIM_BUFFER_SIZE) that bounds the bytes of blocks
// in flight — fetched from the store and not yet written to the node cache — across all threads.
//
// Thread-safety: thread-safe. Fork: the child must call ResetAfterFork() (single-threaded).
#ifndef HFSHIM_CORE_CACHE_BYTE_BUDGET_H_
#define HFSHIM_CORE_CACHE_BYTE_BUDGET_H_

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace hfshim {

class ByteBudget {
 public:
  explicit ByteBudget(uint64_t capacity) : capacity_(std::max<uint64_t>(capacity, 1)) {}

  // Waits until `bytes` (clamped to the capacity, so one oversized block can always proceed) fit,
  // then takes them. DeadlineExceeded if they do not fit by `deadline`.
  absl::Status Acquire(uint64_t bytes, absl::Time deadline) {
    bytes = std::min(bytes, capacity_);
    std::unique_lock<std::mutex> lock(mu_);
    const auto until =
        std::chrono::system_clock::now() +
        absl::ToChronoNanoseconds(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (!cv_.wait_until(lock, until, [&] { return used_ + bytes <= capacity_; })) {
      return absl::DeadlineExceededError(
          "timed out waiting for room in the memory buffer (HFSHIM_BUFFER_SIZE)");
    }
    used_ += bytes;
    return absl::OkStatus();
  }

  // Returns what Acquire(bytes) took.
  void Release(uint64_t bytes) {
    bytes = std::min(bytes, capacity_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      used_ -= std::min(used_, bytes);
    }
    cv_.notify_all();
  }

  uint64_t capacity() const { return capacity_; }

  void ResetAfterFork() {
    new (&mu_) std::mutex();
    new (&cv_) std::condition_variable();
    used_ = 0;  // the parent's fetching threads do not exist in the child
  }

 private:
  const uint64_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t used_ = 0;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_BYTE_BUDGET_H_
