#include "core/vfs/generations.h"

#include <time.h>

#include "absl/strings/str_cat.h"
#include "core/base/log.h"
#include "core/base/posix_error.h"
#include "core/stats/stats.h"

namespace hfshim {
namespace {

// The clock of refresh checks: the coarse monotonic clock (a few ns, ~4 ms resolution), since
// every virtual operation reads it and refresh intervals are seconds.
int64_t CoarseNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

void Generations::Publish(GenerationFile file, std::unique_ptr<IndexReader> reader) {
  auto* gen = new Generation{std::move(file), std::move(reader)};  // never deleted: see header
  SetGauge(Counter::kIndexGeneration, gen->file.sequence);
  current_.store(gen, std::memory_order_release);
}

void Generations::RefreshLocked(bool force) {
  const int64_t now = CoarseNowNs();
  if (!force && now < next_check_ns_.load(std::memory_order_relaxed)) return;
  next_check_ns_.store(now + absl::ToInt64Nanoseconds(refresh_), std::memory_order_relaxed);
  Count(Counter::kIndexRefreshes);
  Generation* cur = current_.load(std::memory_order_acquire);
  absl::StatusOr<GenerationFile> latest = source_->Latest();
  if (!latest.ok()) {
    static std::atomic<bool> said_none{false};
    if (absl::IsNotFound(latest.status()) && cur == nullptr) {
      LogOnce(&said_none, LogLevel::kWarn,
              absl::StrCat("no index in the store yet (", latest.status().message(),
                           "); the hub cache prefix shows only the local disk until "
                           "hfshim-push publishes one"));
    } else if (!absl::IsNotFound(latest.status())) {
      Log(LogLevel::kError,
          absl::StrCat("cannot check the store for a newer index: ", latest.status().message(),
                       cur ? "; keeping the current index"
                           : "; the hub cache prefix shows only "
                             "the local disk for now"));
    }
    return;
  }
  if (latest->checked_ago > absl::ZeroDuration()) {
    next_check_ns_.store(now + absl::ToInt64Nanoseconds(refresh_ - latest->checked_ago),
                         std::memory_order_relaxed);
  }
  if (cur != nullptr && cur->file.sequence == latest->sequence && cur->file.path == latest->path) {
    return;
  }
  absl::StatusOr<std::unique_ptr<IndexReader>> reader = IndexReader::Open(latest->path);
  if (!reader.ok() && latest->checked_ago > absl::ZeroDuration()) {
    // An earlier answer whose copy does not open (damaged since): the answer asked now fetches
    // a damaged copy again.
    absl::StatusOr<GenerationFile> now_latest = source_->LatestNow();
    if (now_latest.ok()) {
      next_check_ns_.store(now + absl::ToInt64Nanoseconds(refresh_), std::memory_order_relaxed);
      latest = *std::move(now_latest);
      reader = IndexReader::Open(latest->path);
    }
  }
  if (!reader.ok()) {
    Log(LogLevel::kError, absl::StrCat("cannot open index generation ", latest->path, ": ",
                                       reader.status().message()));
    return;
  }
  if (cur != nullptr) {
    Log(LogLevel::kInfo, absl::StrCat("switched to index generation ", latest->sequence));
  }
  Publish(std::move(*latest), std::move(*reader));
}

const Generation* Generations::Current() {
  if (reopen_.load(std::memory_order_acquire)) {
    ForkMutexLock lock(&mu_);
    if (reopen_.load(std::memory_order_relaxed)) {
      Generation* cur = current_.load(std::memory_order_relaxed);
      current_.store(nullptr, std::memory_order_relaxed);
      if (cur != nullptr) {
        absl::StatusOr<std::unique_ptr<IndexReader>> reader = IndexReader::Open(cur->file.path);
        if (reader.ok()) {
          Publish(cur->file, std::move(*reader));
        } else {
          RefreshLocked(/*force=*/true);
        }
      }
      reopen_.store(false, std::memory_order_release);
    }
  }
  if (!loaded_once_.load(std::memory_order_acquire)) {
    ForkMutexLock lock(&mu_);
    if (!loaded_once_.load(std::memory_order_relaxed)) {
      RefreshLocked(/*force=*/true);
      loaded_once_.store(true, std::memory_order_release);
    }
  } else if (CoarseNowNs() >= next_check_ns_.load(std::memory_order_relaxed)) {
    if (mu_.TryLock()) {
      RefreshLocked(/*force=*/false);
      mu_.Unlock();
    }
  }
  return current_.load(std::memory_order_acquire);
}

void Generations::ResetAfterFork() { reopen_.store(true, std::memory_order_release); }

}  // namespace hfshim
