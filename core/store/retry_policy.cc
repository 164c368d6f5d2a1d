#include "core/store/retry_policy.h"

#include <unistd.h>

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "core/stats/stats.h"
#include "core/store/http/http_client.h"

namespace hfshim {
namespace {

double Uniform01() {
  thread_local std::mt19937_64 rng(static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) ^
                                   (static_cast<uint64_t>(getpid()) << 32) ^
                                   reinterpret_cast<uintptr_t>(&rng));
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

absl::Status RetryPolicy::Run(absl::Time deadline, const std::function<absl::Status()>& attempt,
                              int* attempts) const {
  absl::Status s;
  int n = 0;
  for (;; ++n) {
    s = attempt();
    if (s.ok() || !IsRetryable(s) || n >= retries_) break;
    const absl::Duration ceiling = std::min(cap_, base_ * (1 << std::min(n, 20)));
    const absl::Duration wait = ceiling * Uniform01();
    if (absl::Now() + wait >= deadline) break;
    absl::SleepFor(wait);
    Count(Counter::kRetries);
  }
  if (attempts != nullptr) *attempts = n + 1;
  if (!s.ok() && IsRetryable(s) && n > 0) {
    return absl::Status(s.code(),
                        absl::StrCat(s.message(), " (gave up after ", n + 1, " attempts)"));
  }
  return s;
}

}  // namespace hfshim
