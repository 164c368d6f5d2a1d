#include "core/vfs/resolve_cache.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

namespace hfshim {

std::optional<Hash128> ResolveCacheKeyId(absl::string_view path, bool follow) {
  if (path.empty() || path[0] != '/' || path.size() >= kVfsPathMax) return std::nullopt;
  char key[kVfsPathMax + 1];
  key[0] = follow ? 'F' : 'N';
  std::memcpy(key + 1, path.data(), path.size());
  return ResolveCache::KeyId(absl::string_view(key, path.size() + 1));
}

void CachedResolution::SetEntry(Entry* e) {
  if (e->block_checksums.size() <= ResolveCache::kMaxStoredChecksums) {
    entry = *e;
    return;
  }
  // Copied without them: the checksums step aside for the copy and come back.
  std::vector<uint64_t> checksums = std::move(e->block_checksums);
  e->block_checksums.clear();
  entry = *e;
  e->block_checksums = std::move(checksums);
  entry_trimmed = true;
}

ResolveCache::ResolveCache(size_t capacity)
    : per_shard_(capacity == 0 ? 0 : (capacity + kShards - 1) / kShards) {
  if (per_shard_ > 0) {
    offered_.reset(static_cast<uint64_t*>(calloc(kOfferSlots, sizeof(uint64_t))));
  }
}

void ResolveCache::Free::operator()(uint64_t* p) const { free(p); }

bool ResolveCache::OfferedBefore(const Hash128& id) {
  if (offered_ == nullptr) return false;
  const uint64_t tag = id.lo | 1;
  std::atomic_ref<uint64_t> slot(offered_[id.hi % kOfferSlots]);
  if (slot.load(std::memory_order_relaxed) == tag) return true;
  slot.store(tag, std::memory_order_relaxed);
  return false;
}

bool ResolveCache::MayHoldOffered(const Hash128& id) const {
  if (offered_ == nullptr) return per_shard_ > 0;
  std::atomic_ref<uint64_t> slot(offered_[id.hi % kOfferSlots]);
  return slot.load(std::memory_order_relaxed) == (id.lo | 1);
}

bool ResolveCache::Lookup(const void* gen, const Hash128& id,
                          absl::FunctionRef<void(const CachedResolution&)> visit) const {
  if (per_shard_ == 0 || gen == nullptr) return false;
  Shard& s = ShardFor(id);
  absl::ReaderMutexLock lock(&s.mu);
  if (s.gen != gen) return false;
  auto it = s.map.find(id);
  if (it == s.map.end()) return false;
  visit(it->second);
  return true;
}

void ResolveCache::Insert(const void* gen, const Hash128& id, CachedResolution value) {
  if (per_shard_ == 0 || gen == nullptr) return;
  if (value.entry.block_checksums.size() > kMaxStoredChecksums) {
    value.entry.block_checksums.clear();
    value.entry.block_checksums.shrink_to_fit();
    value.entry_trimmed = true;
  }
  Shard& s = ShardFor(id);
  absl::MutexLock lock(&s.mu);
  if (s.gen != gen) {
    s.map.clear();
    s.gen = gen;
  }
  auto it = s.map.find(id);
  if (it != s.map.end()) {
    it->second = std::move(value);
    return;
  }
  // Full size at the first insert: growing by rehashing would hash every key again.
  if (s.map.capacity() < per_shard_) s.map.reserve(per_shard_);
  if (s.map.size() >= per_shard_) s.map.erase(s.map.begin());  // arbitrary victim
  s.map.emplace(id, std::move(value));
}

size_t ResolveCache::size() const {
  size_t n = 0;
  for (Shard& s : shards_) {
    absl::ReaderMutexLock lock(&s.mu);
    n += s.map.size();
  }
  return n;
}

void ResolveCache::ResetAfterForkChild() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // The child is single-threaded. The inherited mutexes and maps are not destroyed (either may
  // be in the middle of another thread's operation): new ones are built over them.
  for (Shard& s : shards_) {
    new (&s.mu) absl::Mutex;
    new (&s.map) absl::flat_hash_map<Hash128, CachedResolution>;
    s.gen = nullptr;
  }
}

}  // namespace hfshim
