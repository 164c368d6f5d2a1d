// SingleFlight: at most one call per key in flight in this process; concurrent callers with the
// same key wait for that call and share its status (one fetch serves every thread that missed).
//
// Thread-safety: thread-safe. Fork: the child calls ResetAfterFork() (single-threaded): flights
// of the parent's threads, which do not exist in the child, are forgotten.
#ifndef HFSHIM_CORE_CACHE_SINGLE_FLIGHT_H_
#define HFSHIM_CORE_CACHE_SINGLE_FLIGHT_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <new>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace hfshim {

template <typename Key>
class SingleFlight {
 public:
  // Runs `fn()` (returning absl::Status) unless a call for `key` is in flight; then waits for
  // that call until `deadline` (DeadlineExceeded) and returns its status. `*led` (if given) is
  // set to whether this caller ran `fn`.
  template <typename Fn>
  absl::Status Do(const Key& key, absl::Time deadline, Fn&& fn, bool* led = nullptr) {
    bool leader = false;
    std::shared_ptr<Flight> flight = Join(key, &leader);
    if (led != nullptr) *led = leader;
    if (!leader) return Wait(*flight, deadline);
    absl::Status s = fn();
    Finish(key, s);
    return s;
  }

  // For a caller that leads several keys at once: true if `key` was not in flight and now is,
  // led by the caller, who must call Finish(key, status) once done.
  bool TryLead(const Key& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = flights_.try_emplace(key, nullptr);
    if (inserted) it->second = std::make_shared<Flight>();
    return inserted;
  }

  // Ends the leader's call for `key`: waiters get `status`.
  void Finish(const Key& key, const absl::Status& status) {
    std::shared_ptr<Flight> flight;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = flights_.find(key);
      if (it == flights_.end()) return;
      flight = std::move(it->second);
      flights_.erase(it);
    }
    {
      std::lock_guard<std::mutex> lock(flight->mu);
      flight->done = true;
      flight->status = status;
    }
    flight->cv.notify_all();
  }

  // True if a call for `key` is in flight now.
  bool Busy(const Key& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return flights_.contains(key);
  }

  // A parent thread may have been in the middle of changing the map at the fork (a slot marked
  // used but not yet constructed): the child must not touch its entries, not even to destroy
  // them. It abandons the map (its memory leaks in the child) and starts an empty one.
  void ResetAfterFork() {
    new (&mu_) std::mutex();
    new (&flights_) Map();
  }

 private:
  struct Flight {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    absl::Status status;
  };

  std::shared_ptr<Flight> Join(const Key& key, bool* leader) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = flights_.try_emplace(key, nullptr);
    if (inserted) it->second = std::make_shared<Flight>();
    *leader = inserted;
    return it->second;
  }

  static absl::Status Wait(Flight& f, absl::Time deadline) {
    std::unique_lock<std::mutex> lock(f.mu);
    const auto until =
        std::chrono::system_clock::now() +
        absl::ToChronoNanoseconds(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (!f.cv.wait_until(lock, until, [&] { return f.done; })) {
      return absl::DeadlineExceededError("timed out waiting for another thread's fetch");
    }
    return f.status;
  }

  using Map = absl::flat_hash_map<Key, std::shared_ptr<Flight>>;
  std::mutex mu_;
  Map flights_;  // guarded by mu_
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_SINGLE_FLIGHT_H_
