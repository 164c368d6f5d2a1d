#include "core/cache/lazy_content.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/log.h"
#include "core/base/parallel_parts.h"
#include "core/cache/block_writer.h"
#include "core/stats/stats.h"

namespace hfshim {
namespace {
constexpr absl::Duration kPollInterval = absl::Milliseconds(2);
// The largest GET a bulk fill makes. Per-request cost is what larger GETs save: s3rver spends
// ~4 ms of CPU per request (1 GiB in 16 MiB GETs: 1.7 CPU-s, in 32 MiB GETs: 1.3-1.5), and S3
// bills per request. A fill still splits into at least one GET per worker.
constexpr uint64_t kMaxRunBytes = 32 << 20;
constexpr size_t kReadaheadRunBlocks = 4;  // blocks per readahead GET (16 MiB at 4 MiB blocks)
// A fill's buffer between the GET and the file. The kernel sizes page-cache folios by the write,
// so larger writes make later warm reads of the file faster (2 MiB writes: mmap +25%, read +5%
// against 256 KiB), but on this VM a large folio is a fresh pageblock the host must fault in,
// and 1-2 MiB writes made cold fills and sequential reads over s3rver 20-40% slower
// (bench/README.md). Cold is what the store's users wait for; 256 KiB.
constexpr uint64_t kStagingBytes = 256 << 10;
}  // namespace

LazyContent::LazyContent(std::string final_path, std::unique_ptr<PartialFile> partial,
                         BlockFetcher* fetcher, ByteBudget* budget, int parallel,
                         std::function<void()> after_fill)
    : final_path_(std::move(final_path)),
      partial_(std::move(partial)),
      fetcher_(fetcher),
      budget_(budget),
      parallel_(std::max(parallel, 1)),
      after_fill_(std::move(after_fill)) {
  if (partial_ != nullptr && partial_->Complete()) MaybePromote();
}

std::string LazyContent::OpenPath() const {
  return complete() ? final_path_ : partial_->data_path();
}

uint64_t LazyContent::size() const { return partial_ ? partial_->entry().size : 0; }
uint64_t LazyContent::block_size() const { return partial_ ? partial_->entry().block_size : 0; }

bool LazyContent::BlocksOf(uint64_t offset, uint64_t length, size_t* first, size_t* last) const {
  if (complete() || length == 0) return false;
  const Entry& e = partial_->entry();
  if (offset >= e.size) return false;
  const uint64_t end = std::min<uint64_t>(e.size, offset + std::min(length, e.size));
  *first = offset / e.block_size;
  *last = (end - 1) / e.block_size;
  return true;
}

bool LazyContent::Present(uint64_t offset, uint64_t length) const {
  size_t first, last;
  if (!BlocksOf(offset, length, &first, &last)) return true;
  for (size_t b = first; b <= last; ++b) {
    if (!partial_->Present(b)) return false;
  }
  return true;
}

absl::Status LazyContent::Ensure(uint64_t offset, uint64_t length, absl::Time deadline,
                                 size_t* fetched_blocks) {
  size_t first, last;
  if (!BlocksOf(offset, length, &first, &last)) return absl::OkStatus();
  const Entry& e = partial_->entry();
  std::vector<size_t> missing;
  for (size_t b = first; b <= last; ++b) {
    if (!partial_->Present(b)) missing.push_back(b);
  }
  if (missing.empty()) {
    MaybePromote();
    return absl::OkStatus();
  }
  // Work items: runs of contiguous missing blocks, fetched with one GET each (per-request cost
  // dominates block-sized GETs on many stores), as long as every worker still gets a run.
  const size_t max_run = std::max<uint64_t>(1, kMaxRunBytes / e.block_size);
  const size_t run = std::clamp<size_t>(missing.size() / parallel_, 1, max_run);
  std::vector<std::pair<size_t, size_t>> runs;  // (first block, count)
  for (size_t b : missing) {
    if (!runs.empty() && runs.back().first + runs.back().second == b && runs.back().second < run) {
      ++runs.back().second;
    } else {
      runs.emplace_back(b, 1);
    }
  }
  std::atomic<size_t> next{0}, fetched{0};
  std::mutex err_mu;
  absl::Status first_error;
  auto work = [&] {
    for (size_t i = next++; i < runs.size(); i = next++) {
      size_t done = 0;
      absl::Status s = FillRun(runs[i].first, runs[i].second, deadline, &done);
      fetched += done;
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(err_mu);
        if (first_error.ok()) first_error = s;
        return;
      }
    }
  };
  RunOnWorkers(static_cast<int>(std::min<size_t>(parallel_, runs.size())), [&](int) { work(); });
  if (fetched_blocks != nullptr) *fetched_blocks += fetched;
  if (first_error.ok()) MaybePromote();
  if (fetched > 0 && after_fill_) after_fill_();
  return first_error;
}

LazyContent::Step LazyContent::FetchNextMissing(uint64_t offset, uint64_t length,
                                                absl::Time deadline) {
  size_t first, last;
  if (!BlocksOf(offset, length, &first, &last)) return Step::kNothing;
  // The first missing block nobody fetches; failing that, wait for the first one in flight
  // (SingleFlight::Do joins it), so idle workers sleep on a fetch rather than poll.
  std::optional<size_t> in_flight;
  for (size_t b = first; b <= last; ++b) {
    if (partial_->Present(b)) continue;
    const bool busy = flights_.Busy(b);
    if (busy && in_flight.has_value()) continue;
    if (busy) {
      in_flight = b;
      continue;
    }
    // With its free missing successors, up to a readahead GET's worth.
    size_t count = 1;
    while (count < kReadaheadRunBlocks && b + count <= last && !partial_->Present(b + count) &&
           !flights_.Busy(b + count)) {
      ++count;
    }
    size_t fetched = 0;
    if (!FillRun(b, count, deadline, &fetched).ok()) return Step::kFailed;
    AfterFetch(fetched);
    return Step::kFetched;
  }
  if (!in_flight.has_value()) return Step::kNothing;
  return Fill(*in_flight, deadline) ? Step::kWaited : Step::kFailed;
}

bool LazyContent::Fill(size_t block, absl::Time deadline) {
  bool fetched = false;
  absl::Status s =
      flights_.Do(block, deadline, [&] { return FetchBlockOnce(block, deadline, &fetched); });
  if (!s.ok()) return false;
  AfterFetch(fetched ? 1 : 0);
  return true;
}

void LazyContent::AfterFetch(size_t fetched) {
  MaybePromote();
  if (fetched > 0 && after_fill_) after_fill_();
}

absl::Status LazyContent::FillRun(size_t first, size_t count, absl::Time deadline,
                                  size_t* fetched) {
  for (size_t done = 0; done < count;) {
    const size_t b = first + done;
    // Lead as many contiguous missing blocks from b as no other thread of ours is fetching.
    size_t led = 0;
    while (led < count - done && !partial_->Present(b + led) && flights_.TryLead(b + led)) ++led;
    if (led == 0) {  // present, or in flight in another thread: join it
      bool did = false;
      absl::Status s = flights_.Do(b, deadline, [&] { return FetchBlockOnce(b, deadline, &did); });
      if (!s.ok()) return s;
      *fetched += did;
      ++done;
      continue;
    }
    // Across processes: lock the leading blocks nobody else has; a block another process
    // fetches, or has filled meanwhile, ends the GET there.
    size_t locked = 0;
    while (locked < led && partial_->TryLockBlock(b + locked)) {
      if (partial_->Present(b + locked)) {
        partial_->UnlockBlock(b + locked);
        break;
      }
      ++locked;
    }
    absl::Status s;
    if (locked > 0) {
      size_t done = 0;
      s = FetchLocked(b, locked, deadline, &done);
      *fetched += done;
    }
    for (size_t j = 0; j < locked; ++j) flights_.Finish(b + j, s);
    for (size_t j = locked; j < led; ++j) {  // one by one, waiting for the other process
      bool did = false;
      if (s.ok()) s = FetchBlockOnce(b + j, deadline, &did);
      *fetched += did;
      flights_.Finish(b + j, s);
    }
    if (!s.ok()) return s;
    done += led;
  }
  return absl::OkStatus();
}

absl::Status LazyContent::FetchBlockOnce(size_t block, absl::Time deadline, bool* fetched) {
  while (!partial_->TryLockBlock(block)) {  // another process is fetching it
    if (partial_->Present(block)) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out waiting for another process's fetch of block ", block, " of ",
                       partial_->data_path()));
    }
    absl::SleepFor(kPollInterval);
  }
  if (partial_->Present(block)) {
    partial_->UnlockBlock(block);
    return absl::OkStatus();
  }
  size_t done = 0;
  absl::Status s = FetchLocked(block, 1, deadline, &done);
  *fetched = done > 0;
  return s;
}

absl::Status LazyContent::FetchLocked(size_t first, size_t count, absl::Time deadline,
                                      size_t* fetched) {
  const Entry& e = partial_->entry();
  // The GET streams through one staging buffer: that is what the run holds in memory (never
  // more than the whole memory buffer, however small HFSHIM_BUFFER_SIZE is).
  const uint64_t staging =
      std::min<uint64_t>({kStagingBytes, uint64_t{e.block_size}, budget_->capacity()});
  absl::Status s = budget_->Acquire(staging, deadline);
  if (s.ok()) {
    const absl::Span<char> buffer = ThreadStagingBuffer(staging);
    if (buffer.empty()) {
      s = absl::ResourceExhaustedError("no memory for a staging buffer");
    } else {
      BlockWriter writer(partial_.get(), first, count, buffer);
      s = fetcher_->FetchBlocks(e, &writer, deadline);
      if (s.ok() && writer.blocks_done() != count) {
        s = absl::InternalError(absl::StrCat("a fill of ", count, " blocks of ",
                                             partial_->data_path(), " marked only ",
                                             writer.blocks_done()));
      }
      *fetched = writer.blocks_done();
      const uint64_t marked =
          std::min<uint64_t>(uint64_t{writer.blocks_done()} * e.block_size, writer.length());
      if (marked > 0) Count(Counter::kBytesFromStore, marked);
    }
    budget_->Release(staging);
  }
  for (size_t j = 0; j < count; ++j) partial_->UnlockBlock(first + j);
  return s;
}

void LazyContent::MaybePromote() {
  if (complete_.load(std::memory_order_acquire) || !partial_->Complete()) return;
  absl::Status s = partial_->Promote();
  if (!s.ok()) {
    Log(LogLevel::kWarn,
        absl::StrCat("cannot promote complete content ", partial_->data_path(), ": ", s.message()));
    return;
  }
  complete_.store(true, std::memory_order_release);
}

void LazyContent::ResetAfterFork() {
  flights_.ResetAfterFork();
  if (partial_ != nullptr) partial_->ResetAfterFork();
}

}  // namespace hfshim
