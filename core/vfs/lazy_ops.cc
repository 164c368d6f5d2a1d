// Vfs lazy fds: fetching the blocks a read, mmap or stdio stream of a large file needs.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/log.h"
#include "core/base/parallel_parts.h"
#include "core/base/posix_error.h"
#include "core/cache/lazy_content.h"
#include "core/cache/partial_file.h"
#include "core/stats/stats.h"
#include "core/vfs/vfs.h"

namespace hfshim {

std::shared_ptr<LazyFd> Vfs::LazyState(int fd) {
  if (std::shared_ptr<LazyFd> lazy = fds_.GetLazy(fd)) return lazy;
  // Not opened by this process image: an fd inherited across exec (the shim's start-up marked
  // it), whose record names the content.
  absl::StatusOr<std::string> link = env_->ReadLink(absl::StrCat("/proc/self/fd/", fd));
  if (!link.ok() || !absl::EndsWith(*link, kPartialSuffix)) return nullptr;
  absl::StatusOr<std::shared_ptr<LazyContent>> content = cache_->OpenLazyPath(*link);
  if (!content.ok()) return nullptr;
  auto lazy = std::make_shared<LazyFd>(*std::move(content));
  fds_.PutLazy(fd, lazy);
  return lazy;
}

int Vfs::EnsureLazy(int fd, LazyFd& lazy, uint64_t offset, uint64_t length) {
  LazyContent& content = *lazy.content;
  absl::Status s = content.Ensure(offset, length, absl::Now() + absl::Seconds(timeout_seconds_));
  if (!s.ok()) {
    Count(Counter::kErrorsEio);
    // The fd no longer says which virtual path it came from: the content's cache path, and
    // what to do about the cause.
    Log(LogLevel::kError,
        absl::StrCat("cannot read ", content.final_path(), " (fd ", fd, ") at ", offset, ": ",
                     s.message(),
                     absl::IsNotFound(s) || absl::IsDataLoss(s)
                         ? "; the store lacks or damaged content its index names: push the repo "
                           "again"
                         : "; check that the store (HFSHIM_STORE) is reachable, or hfshim-warm "
                           "the file while it is"));
    return -EIO;
  }
  if (content.complete()) LazyFdComplete(fd);
  return 0;
}

void Vfs::LazyFdComplete(int fd) {
  SetFdHint(fd, FdKind::kContent);  // nothing left to intercept
  posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL);
}

int Vfs::PrepareRead(int fd, int64_t offset, uint64_t length, int64_t* at) {
  std::shared_ptr<LazyFd> lazy = LazyState(fd);
  if (lazy == nullptr) {
    // Not a lazy fd: a stale hint (closed behind our back), or an inherited fd on a partial
    // file whose record is gone. The latter must not read holes as zeros.
    absl::StatusOr<std::string> link = env_->ReadLink(absl::StrCat("/proc/self/fd/", fd));
    if (link.ok() && absl::StrContains(*link, kPartialSuffix)) return -EIO;
    ClearFdHint(fd);
    return 0;
  }
  LazyContent& content = *lazy->content;
  if (content.complete()) {
    LazyFdComplete(fd);
    return 0;
  }
  if (offset < 0) {
    const off_t cur = ::lseek(fd, 0, SEEK_CUR);
    if (cur < 0) return 0;  // the read itself reports the fd's problem
    offset = cur;
    if (at != nullptr) *at = cur;
  }
  const uint64_t off = static_cast<uint64_t>(offset);
  // Readahead: while reads continue where the previous one ended, the next `window` blocks
  // (doubling up to twice the content's parallelism) are fetched in the background, alongside
  // the block this read needs; a later read of a block in flight waits for that fetch.
  const uint64_t previous_end = lazy->next_offset.exchange(off + length);
  uint32_t window = lazy->window.load(std::memory_order_relaxed);
  window = off == previous_end
               ? std::min<uint32_t>(std::max<uint32_t>(1, window * 2), 2 * content.parallel())
               : 0;
  lazy->window.store(window, std::memory_order_relaxed);
  if (window > 0) StartReadahead(lazy, off + length, uint64_t{window} * content.block_size());
  if (content.Present(off, length)) {
    const uint64_t bs = content.block_size();
    const uint64_t end = std::min(off + length, content.size());
    if (end > off) Count(Counter::kCacheBlockHits, (end - 1) / bs - off / bs + 1);
    return 0;
  }
  return EnsureLazy(fd, *lazy, off, length);
}

void Vfs::StartReadahead(const std::shared_ptr<LazyFd>& lazy, uint64_t offset, uint64_t length) {
  if (lazy->content->Present(offset, length)) return;
  if (lazy->readahead_running.exchange(true)) return;  // one readahead per fd at a time
  const absl::Time deadline = absl::Now() + absl::Seconds(timeout_seconds_);
  try {
    std::thread([lazy, deadline] {
      // A sliding window: `parallel` workers keep fetching the first missing block ahead of
      // where the reader is now, until the window ahead is present, the reader stops reading
      // sequentially (window 0) or a fetch fails (the read that needs it reports the error).
      LazyContent& content = *lazy->content;
      auto worker = [&] {
        for (;;) {
          const uint64_t window = lazy->window.load(std::memory_order_relaxed);
          if (window == 0) return;
          const uint64_t from = lazy->next_offset.load(std::memory_order_relaxed);
          switch (content.FetchNextMissing(from, window * content.block_size(), deadline)) {
            case LazyContent::Step::kFetched:
            case LazyContent::Step::kWaited:
              break;
            case LazyContent::Step::kNothing:
            case LazyContent::Step::kFailed:
              return;
          }
          if (absl::Now() > deadline) return;
        }
      };
      RunOnWorkers(content.parallel(), [&](int) { worker(); });
      lazy->readahead_running.store(false);
    }).detach();
  } catch (...) {  // no thread to be had: reads fetch synchronously
    lazy->readahead_running.store(false);
  }
}

ssize_t Vfs::ReadAtOffset(int fd, uint64_t length, const std::function<ssize_t()>& read_here,
                          const std::function<ssize_t(uint64_t, size_t)>& read_at) {
  std::shared_ptr<LazyFd> lazy = LazyState(fd);
  if (lazy == nullptr) {
    const int rc = PrepareRead(fd, -1, length);
    return rc < 0 ? rc : read_here();
  }
  std::lock_guard<std::mutex> lock(lazy->offset_mu);
  int64_t at = -1;
  const int rc = PrepareRead(fd, -1, length, &at);
  if (rc < 0) return rc;
  ssize_t n = read_here();
  if (n <= 0 || at < 0) return n;
  const off_t after = ::lseek(fd, 0, SEEK_CUR);
  if (after < 0 || after - n == at) return n;
  // Another process sharing the open file description moved the offset before our read.
  const uint64_t start = static_cast<uint64_t>(after - n);
  if (lazy->content->Present(start, static_cast<uint64_t>(n))) return n;
  const int fetched = EnsureLazy(fd, *lazy, start, static_cast<uint64_t>(n));
  return fetched < 0 ? fetched : read_at(start, static_cast<size_t>(n));
}

int Vfs::PrepareMap(int fd, uint64_t offset, uint64_t length) {
  std::shared_ptr<LazyFd> lazy = LazyState(fd);
  if (lazy == nullptr) return PrepareRead(fd, 0, 0);  // the same checks for a non-lazy fd
  return EnsureLazy(fd, *lazy, offset, length);
}

int Vfs::CompleteFd(int fd) {
  std::shared_ptr<LazyFd> lazy = LazyState(fd);
  if (lazy == nullptr) return PrepareRead(fd, 0, 0);
  return EnsureLazy(fd, *lazy, 0, lazy->content->size());
}

}  // namespace hfshim
