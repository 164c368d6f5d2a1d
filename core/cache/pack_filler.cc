#include "core/cache/pack_filler.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/cache/disk_cache.h"
#include "core/cache/lock_file.h"
#include "core/env/file_util.h"

namespace hfshim {
namespace {

constexpr int kChecksumAttempts = 3;        // fetches of a window whose requested file is wrong
constexpr int kDenseWindows = 3;            // windows of a pack fetched before prefetching
constexpr size_t kMaxPrefetched = 1 << 16;  // windows remembered as queued for prefetching

// Background writers of pack windows: as many as there are cores (the writes are CPU work in the
// kernel), at most HFSHIM_THREADS.
int WindowWriterThreads(const Config& config) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, std::min(config.threads, cores));
}

// A buffer for the `size` window bytes that start `lead` bytes after the window's start: a
// shared one (pack byte o at offset o - window start of its memory file, as other processes read
// it through the window's link), else a private one (the window then cannot be published).
absl::StatusOr<MappedBuffer> WindowBuffer(uint64_t size, uint64_t lead) {
  absl::StatusOr<MappedBuffer> shared = MappedBuffer::CreateShared(size, lead);
  return shared.ok() ? std::move(shared) : MappedBuffer::CreateRecycled(size);
}

}  // namespace

PackFiller::PackFiller(const Config& config, Env* env, BlockFetcher* fetcher, ByteBudget* budget,
                       Cache* cache)
    : config_(config),
      env_(env),
      fetcher_(fetcher),
      budget_(budget),
      cache_(cache),
      writer_threads_(WindowWriterThreads(config)),
      prefetchers_(std::max(1, config.threads)),
      writers_(writer_threads_) {}

PackFiller::~PackFiller() {
  prefetchers_.Stop();  // they hand windows to the writers
  writers_.Stop();      // before the members the writers use go
}

void PackFiller::Drain() {
  prefetchers_.Drain();
  writers_.Drain();
}

void PackFiller::LockForFork() { windows_mu_.lock(); }

void PackFiller::UnlockAfterFork() { windows_mu_.unlock(); }

void PackFiller::ResetAfterFork() {
  window_flights_.ResetAfterFork();
  prefetchers_.ResetAfterFork();
  writers_.ResetAfterFork();
  new (&windows_mu_) std::mutex();
  windows_.clear();  // their writers are the parent's threads; members are fetched anew
  MappedBuffer::DropInheritedShared();
  fetched_windows_.clear();
  prefetched_.clear();
}

absl::Status PackFiller::Fill(const Entry& entry, const IndexReader& index, const std::string& path,
                              absl::Time deadline) {
  const uint64_t bs = config_.block_size_bytes;
  const WindowKey key{entry.location.object_key, entry.location.offset / bs * bs};
  struct stat st;
  auto in_place = [&] {
    return env_->Stat(path, &st).ok() && static_cast<uint64_t>(st.st_size) == entry.size;
  };
  for (int round = 0; round < 2; ++round) {
    if (std::shared_ptr<PackWindow> live = LiveWindow(key)) {
      const int i = live->Find(entry.location.offset, entry.content_hash);
      if (i >= 0 && live->Written(i)) {
        // Written from this window, perhaps just after the caller looked. If it is gone, it
        // was evicted since (by the size limit or another process): the window no longer
        // stands for what is cached, so the member is fetched as on a first miss.
        if (in_place()) return absl::OkStatus();
        ForgetWindow(key, live);
        continue;
      }
      if (i >= 0 && live->Ensure(i, deadline).ok()) return absl::OkStatus();
      break;  // not among its members, or its copy failed: fetch our own
    }
    bool led = false;
    absl::Status s = window_flights_.Do(
        key, deadline, [&] { return LeadWindow(entry, index, key, path, deadline, in_place); },
        &led);
    if (led || !s.ok()) return s;
    if (in_place()) return absl::OkStatus();
  }
  // Not a member of the window the leader fetched (a file longer than a block), or its write
  // there failed: fetch this file's window again, cache it alone.
  ASSIGN_OR_RETURN(std::shared_ptr<PackWindow> own, FetchWindow(entry, index, deadline, nullptr));
  return own->Ensure(own->Find(entry.location.offset, entry.content_hash), deadline);
}

absl::Status PackFiller::LeadWindow(const Entry& entry, const IndexReader& index,
                                    const WindowKey& key, const std::string& path,
                                    absl::Time deadline, const std::function<bool()>& in_place) {
  const std::string base = WindowBase(key);
  const std::string lock_path = base + ".window.lock";
  const std::string window_path = base + std::string(kWindowSuffix);
  RETURN_IF_ERROR(MakeDirs(env_, base.substr(0, base.rfind('/')), 0700));
  auto satisfied = [&] { return in_place() || WindowPublished(window_path); };
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (in_place() || FromWindowFile(entry, key, window_path)) {
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(int lock_fd, AcquireLockFile(lock_path, deadline, satisfied));
    if (lock_fd < 0) continue;  // another process cached it or left its window file
    // Not satisfied under the lock either (AcquireLockFile asked once more): ours to fetch.
    absl::Status s = FetchAndWrite(entry, index, key, window_path, deadline);
    unlink(lock_path.c_str());  // safe while held: AcquireLockFile re-checks the inode
    close(lock_fd);
    return s;
  }
  return FetchAndWrite(entry, index, key, window_path, deadline);  // window files kept failing
}

bool PackFiller::FromWindowFile(const Entry& entry, const WindowKey& key,
                                const std::string& window_path) {
  // Without blocking, should the link's pid have been reused since (WindowPublished): no FIFO
  // open waits for a writer, no device becomes a controlling terminal.
  if (!WindowPublished(window_path)) return false;
  absl::StatusOr<int> fd = env_->Open(window_path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd.ok()) return false;
  std::string data(entry.size, '\0');
  absl::StatusOr<size_t> got =
      env_->Pread(*fd, data.data(), data.size(), entry.location.offset - key.second);
  env_->Close(*fd).IgnoreError();
  return got.ok() && *got == data.size() && fetcher_->CheckBlocks(entry, data, 0).ok() &&
         cache_->WriteContent(entry.content_hash, data).ok();
}

absl::Status PackFiller::FetchAndWrite(const Entry& entry, const IndexReader& index,
                                       const WindowKey& key, const std::string& window_path,
                                       absl::Time deadline) {
  auto budget = std::make_shared<uint64_t>(0);
  ASSIGN_OR_RETURN(std::shared_ptr<PackWindow> window,
                   FetchWindow(entry, index, deadline, WindowDone(key, window_path, budget)));
  RETURN_IF_ERROR(
      window->Ensure(window->Find(entry.location.offset, entry.content_hash), deadline));
  if (window->pending() && budget_->Acquire(window->last() - window->first(), absl::Now()).ok()) {
    *budget = window->last() - window->first();
  }
  WriteRest(window, key, window_path, *budget > 0);
  MaybePrefetch(key, index, deadline);
  return absl::OkStatus();
}

std::function<void()> PackFiller::WindowDone(const WindowKey& key, const std::string& window_path,
                                             std::shared_ptr<uint64_t> budget) {
  return [this, key, window_path, budget] {
    {
      // Only a finished window: after ForgetWindow, a newer one may stand for the key.
      std::lock_guard<std::mutex> lock(windows_mu_);
      auto it = windows_.find(key);
      if (it != windows_.end() && !it->second->pending()) windows_.erase(it);
    }
    if (*budget > 0) {
      unlink(window_path.c_str());
      budget_->Release(*budget);
    }
  };
}

void PackFiller::WriteRest(const std::shared_ptr<PackWindow>& window, const WindowKey& key,
                           const std::string& window_path, bool budgeted) {
  if (budgeted && window->pending() && PublishWindow(*window, window_path).ok()) {
    {
      std::lock_guard<std::mutex> lock(windows_mu_);
      windows_[key] = window;
    }
    bool queued = false;
    for (int i = 0; i < writer_threads_; ++i) {  // several writers share a window
      queued |= writers_.Add({[window] {
                                while (window->WriteNext()) {
                                }
                              },
                              [window] { window->Abandon(); }});
    }
    if (queued) return;
  }
  while (window->WriteNext()) {
  }
}

void PackFiller::MaybePrefetch(const WindowKey& key, const IndexReader& index,
                               absl::Time deadline) {
  {
    std::lock_guard<std::mutex> lock(windows_mu_);
    if (++fetched_windows_[key.first] < kDenseWindows) return;
    if (prefetched_.size() > kMaxPrefetched) prefetched_.clear();
  }
  const uint64_t bs = config_.block_size_bytes;
  for (int k = 1; k <= config_.threads; ++k) {
    const WindowKey next{key.first, key.second + k * bs};
    {
      std::lock_guard<std::mutex> lock(windows_mu_);
      if (!prefetched_.insert(next).second) continue;
    }
    absl::StatusOr<std::vector<IndexReader::PackMember>> members = WindowMembers(index, next);
    if (!members.ok() || members->empty()) break;  // the end of the pack
    if (cache_->Contains(members->front().content_hash)) continue;
    prefetchers_.Add(
        {[this, next, m = *std::move(members), deadline] { PrefetchWindow(next, m, deadline); },
         nullptr});
  }
}

void PackFiller::PrefetchWindow(const WindowKey& key,
                                const std::vector<IndexReader::PackMember>& members,
                                absl::Time deadline) {
  if (!window_flights_.TryLead(key)) return;
  const std::string base = WindowBase(key);
  const std::string lock_path = base + ".window.lock";
  const std::string window_path = base + std::string(kWindowSuffix);
  const uint64_t first = members.front().offset;
  const uint64_t last = members.back().offset + members.back().length;
  auto cached = [&] {  // or in flight in another process, which keeps its window file
    return cache_->Contains(members.front().content_hash) || WindowPublished(window_path);
  };
  absl::StatusOr<int> lock_fd = MakeDirs(env_, base.substr(0, base.rfind('/')), 0700).ok()
                                    ? AcquireLockFile(lock_path, absl::Now(), cached)
                                    : absl::StatusOr<int>(-1);
  if (lock_fd.ok() && *lock_fd >= 0) {  // else another process has it, or it is cached
    auto budget = std::make_shared<uint64_t>(0);
    if (budget_->Acquire(last - first, absl::Now()).ok()) {  // not cached: AcquireLockFile asked
      *budget = last - first;
      absl::StatusOr<MappedBuffer> data = WindowBuffer(last - first, first - key.second);
      if (data.ok() && fetcher_->GetInto(key.first, first, &*data, deadline).ok()) {
        WriteRest(MakeWindow(*std::move(data), first, members, Hash128{},
                             WindowDone(key, window_path, budget)),
                  key, window_path, true);
      } else {
        budget_->Release(*budget);
      }
    }
    unlink(lock_path.c_str());  // safe while held: AcquireLockFile re-checks the inode
    close(*lock_fd);
  }
  window_flights_.Finish(key, absl::OkStatus());
}

absl::StatusOr<std::vector<IndexReader::PackMember>> PackFiller::WindowMembers(
    const IndexReader& index, const WindowKey& key) {
  const uint64_t bs = config_.block_size_bytes;
  ASSIGN_OR_RETURN(std::vector<IndexReader::PackMember> members,
                   index.PackMembers(key.first, key.second, key.second + 2 * bs));
  members.erase(
      std::find_if(members.begin(), members.end(),
                   [&](const IndexReader::PackMember& m) { return m.offset >= key.second + bs; }),
      members.end());
  return members;
}

std::string PackFiller::WindowBase(const WindowKey& key) const {
  return cache_->PathFor(ContentHash(absl::StrCat(key.first, "@", key.second)));
}

bool PackFiller::WindowPublished(const std::string& window_path) {
  struct stat st;
  return env_->Stat(window_path, &st).ok() && S_ISREG(st.st_mode);
}

absl::Status PackFiller::PublishWindow(const PackWindow& window, const std::string& window_path) {
  const int fd = window.shared_fd();  // checks the file's identity: asked once
  if (fd < 0) return absl::UnavailableError("the window is not in a memory file");
  const std::string temp = TempPathFor(window_path);
  RETURN_IF_ERROR(env_->Symlink(absl::StrCat("/proc/", getpid(), "/fd/", fd), temp));
  struct stat st;
  absl::Status s = env_->Stat(temp, &st);  // resolves here, so it will for other processes
  if (s.ok()) s = env_->Rename(temp, window_path);
  if (!s.ok()) env_->Unlink(temp).IgnoreError();
  return s;
}

std::shared_ptr<PackWindow> PackFiller::LiveWindow(const WindowKey& key) {
  std::lock_guard<std::mutex> lock(windows_mu_);
  auto it = windows_.find(key);
  return it == windows_.end() ? nullptr : it->second;
}

void PackFiller::ForgetWindow(const WindowKey& key, const std::shared_ptr<PackWindow>& window) {
  std::lock_guard<std::mutex> lock(windows_mu_);
  auto it = windows_.find(key);
  if (it != windows_.end() && it->second == window) windows_.erase(it);
}

absl::StatusOr<std::shared_ptr<PackWindow>> PackFiller::FetchWindow(const Entry& entry,
                                                                    const IndexReader& index,
                                                                    absl::Time deadline,
                                                                    std::function<void()> on_done) {
  const uint64_t bs = config_.block_size_bytes;
  const uint64_t off = entry.location.offset, len = entry.size;
  ASSIGN_OR_RETURN(std::vector<IndexReader::PackMember> members,
                   WindowMembers(index, {entry.location.object_key, off / bs * bs}));
  uint64_t first = off, last = off + len;
  for (const auto& m : members) {
    first = std::min(first, m.offset);
    last = std::max(last, m.offset + m.length);
  }
  ASSIGN_OR_RETURN(MappedBuffer window, WindowBuffer(last - first, first - off / bs * bs));
  absl::Status s;
  for (int attempt = 0; attempt < kChecksumAttempts; ++attempt) {
    s = fetcher_->GetInto(entry.location.object_key, first, &window, deadline);
    if (!s.ok()) return s;
    s = fetcher_->CheckBlocks(entry, window.view().substr(off - first, len), 0);
    if (s.ok()) break;
  }
  if (!s.ok()) {
    Log(LogLevel::kError, absl::StrCat(s.message(), "; the store object is damaged: push again"));
    return s;
  }
  bool listed = false;
  for (const auto& m : members) listed |= m.offset == off && m.content_hash == entry.content_hash;
  if (!listed) {  // longer than a block
    IndexReader::PackMember self;
    self.offset = off;
    self.length = len;
    self.content_hash = entry.content_hash;
    self.checksum = entry.block_checksums.empty() ? 0 : entry.block_checksums[0];
    members.insert(
        std::upper_bound(members.begin(), members.end(), self,
                         [](const auto& a, const auto& b) { return a.offset < b.offset; }),
        self);
  }
  return MakeWindow(std::move(window), first, std::move(members), entry.content_hash,
                    std::move(on_done));
}

std::shared_ptr<PackWindow> PackFiller::MakeWindow(MappedBuffer data, uint64_t first,
                                                   std::vector<IndexReader::PackMember> members,
                                                   const Hash128& requested,
                                                   std::function<void()> on_done) {
  return std::make_shared<PackWindow>(
      std::move(data), first, std::move(members),
      [this, requested](const IndexReader::PackMember& m, absl::string_view data) {
        absl::Status w = cache_->WriteContent(m.content_hash, data);
        if (w.ok() && m.content_hash != requested) ++neighbours_;
        return w;
      },
      std::move(on_done));
}

}  // namespace hfshim
