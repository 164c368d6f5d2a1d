// RetryPolicy: bounded retries with exponential backoff and full jitter, under a deadline.
//
// Retries only statuses a retry may cure (IsRetryable: Unavailable, DeadlineExceeded of one
// attempt); never NotFound, PermissionDenied, OutOfRange or AlreadyExists. The wait before retry
// k is uniform in [0, min(cap, base * 2^k)); no wait and no attempt starts past the deadline.
// Each retry adds one to the `retries` counter that hfshim-stat shows.
//
// Thread-safe (no mutable state; the jitter source is per thread).
#ifndef HFSHIM_CORE_STORE_RETRY_POLICY_H_
#define HFSHIM_CORE_STORE_RETRY_POLICY_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace hfshim {

class RetryPolicy {
 public:
  explicit RetryPolicy(int retries, absl::Duration base = absl::Milliseconds(100),
                       absl::Duration cap = absl::Seconds(5))
      : retries_(retries), base_(base), cap_(cap) {}

  // Runs `attempt` until it returns OK or a non-retryable status, `retries` retries are spent,
  // or the deadline comes. Returns the last status; a retryable failure that exhausted the policy
  // says how many attempts were made. *attempts (optional) gets the number of attempts.
  absl::Status Run(absl::Time deadline, const std::function<absl::Status()>& attempt,
                   int* attempts = nullptr) const;

  int retries() const { return retries_; }

 private:
  const int retries_;
  const absl::Duration base_;
  const absl::Duration cap_;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_RETRY_POLICY_H_
