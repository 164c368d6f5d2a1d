// ResolveCache: per-process memo of path resolutions on one index generation, so a repeated
// stat/open/access of the same absolute path is answered from memory (no LMDB walk, no syscall),
// and directories met while resolving are looked up once per generation.
//
// Keys are opaque byte strings chosen by the caller (Vfs uses "F<abs path>"/"N<abs path>" for a
// path resolved following/not following a final symlink, "P<abs path>" for a parent directory
// (its canonical path, entry and symlink hops, or "not usable") and "D<rel path>" for directory
// entries of the index). A value is whatever resolving the key gave on generation `gen`: an errno,
// a passthrough (real path, prefix root) or a virtual entry with its canonical path. A key is
// stored as its XXH3-128 hash, not its bytes (no allocation, no second cache miss to compare
// it): two keys of equal hash would share a value, as two contents of equal hash would share a
// cache file (content addressing makes the same 2^-128 bet).
//
// Contract:
//  * Exactness: a value is only returned for the generation it was stored under (`gen` is the
//    identity of an immutable, never-destroyed Generation, so it cannot be reused). A lookup with
//    another generation misses; the first insert with a new generation empties the shard. The
//    caller stores only results that are a pure function of (key, generation).
//  * Bounded: at most `capacity` values in all (capacity / kShards per shard); inserting into a
//    full shard evicts an arbitrary value of that shard. capacity 0 disables the cache.
//  * Admission is the caller's: OfferedBefore tells a path asked for a second time.
//  * Thread-safety: thread-safe. kShards shards, each an absl::Mutex taken shared by lookups and
//    exclusively by inserts; visitors run under the shared lock and must not block or re-enter.
//  * Fork: the child calls ResetAfterForkChild(), which gives every shard a fresh mutex and an
//    empty map, abandoning (leaking, in the child only) the inherited ones: another thread may
//    have been inside a shard at fork time, so the inherited map may be mid-update and the
//    mutex held or queued on by threads that do not exist in the child. Nothing is held across
//    fork, so fork never waits for this cache. A vfork child never gets here (the shim passes
//    through in it).
#ifndef HFSHIM_CORE_VFS_RESOLVE_CACHE_H_
#define HFSHIM_CORE_VFS_RESOLVE_CACHE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/base/hash.h"
#include "core/index/entry.h"
#include "core/vfs/prefix.h"

namespace hfshim {

// One remembered resolution.
struct CachedResolution {
  // Sets `entry` from `e`, leaving out the block checksums when the cache would trim them
  // (without copying them: `*e` lends them and has them back, unchanged, on return).
  void SetEntry(Entry* e);

  int error = 0;               // > 0: the errno the resolution failed with
  bool virtual_entry = false;  // false (and error 0): passthrough
  bool prefix_root = false;    // passthrough on the real prefix root (union listing)
  std::string real_path;       // passthrough: on this path instead of the caller's
  std::string path;            // virtual: canonical path relative to the index root
  Entry entry;                 // virtual: the final entry
  int symlink_hops = 0;        // virtual: symlinks followed to reach it
  // The entry's block checksums were dropped to bound memory (large files): whoever needs them
  // reads the entry again from the index; every stat field is still exact.
  bool entry_trimmed = false;
};

// The id (ResolveCache::KeyId) of the resolution-cache key of an absolute `path` ("F" or "N" for
// follow, then the path as given); nullopt if the path is not cacheable: a relative path depends
// on the working directory or dirfd, which the key does not capture.
std::optional<Hash128> ResolveCacheKeyId(absl::string_view path, bool follow);

class ResolveCache {
 public:
  static constexpr size_t kShards = 16;
  // Entries with more block checksums than this are stored trimmed (see entry_trimmed). None
  // are kept: the paths that use a remembered entry (stat, the open of cached content) never
  // need them, and copying them cost an allocation per remembered file.
  static constexpr size_t kMaxStoredChecksums = 0;

  explicit ResolveCache(size_t capacity);
  ResolveCache(const ResolveCache&) = delete;
  ResolveCache& operator=(const ResolveCache&) = delete;

  bool enabled() const { return per_shard_ > 0; }

  // The identity `key` is stored under (its XXH3-128). Callers that look a key up, offer it and
  // insert it compute it once and pass it to the overloads below.
  static Hash128 KeyId(absl::string_view key) { return ContentHash(key); }

  // If `key` holds a value stored under `gen`, calls `visit` with it (under the shard's shared
  // lock) and returns true; false otherwise.
  bool Lookup(const void* gen, absl::string_view key,
              absl::FunctionRef<void(const CachedResolution&)> visit) const {
    return Lookup(gen, KeyId(key), visit);
  }
  bool Lookup(const void* gen, const Hash128& id,
              absl::FunctionRef<void(const CachedResolution&)> visit) const;

  // Stores `value` for `key` under `gen` (replacing any value; emptying the shard first if it
  // holds another generation's values; evicting one value if the shard is full).
  void Insert(const void* gen, absl::string_view key, CachedResolution value) {
    Insert(gen, KeyId(key), std::move(value));
  }
  void Insert(const void* gen, const Hash128& id, CachedResolution value);

  // Lookup of a key that is inserted only once OfferedBefore admitted it (Vfs's "F"/"N" keys of
  // resolved paths): the shard is not touched when the key's offer is not remembered
  // (MayHoldOffered), as for every path of a first pass over a dataset.
  bool LookupAdmitted(const void* gen, const Hash128& id,
                      absl::FunctionRef<void(const CachedResolution&)> visit) const {
    return MayHoldOffered(id) && Lookup(gen, id, visit);
  }

  // Second-sight admission: true if `key` was offered here before (recently); records it either
  // way. Callers that resolve many paths once each (a pass stating or opening every file of a
  // dataset) remember only paths asked for a second time: a first-time insert costs more than
  // the whole lookup it would save (~0.8 us: allocations, a victim freed) and evicts paths that
  // are asked again. Remembered in a direct-mapped table of key hashes (kOfferSlots): a key is
  // forgotten when another lands on its slot, and a 64-bit hash collision can admit a key seen
  // once; either changes only what is remembered, never an answer. Thread-safe (relaxed atomics);
  // the table is kept across fork.
  bool OfferedBefore(absl::string_view key) { return OfferedBefore(KeyId(key)); }
  bool OfferedBefore(const Hash128& id);

  // False if the key `id` is surely not held among the keys admitted through OfferedBefore:
  // its offer is not (or no longer) remembered. Callers that insert a key only once
  // OfferedBefore said yes skip the shard's lock and probe for a path seen once (a pass over a
  // dataset); a key whose offer was forgotten is then resolved again, never answered wrongly.
  // Thread-safe (a relaxed load); does not record anything.
  bool MayHoldOffered(const Hash128& id) const;

  // Values held now (all generations), for tests and statistics.
  size_t size() const;

  // Fork child only (single-threaded): fresh, empty shards.
  void ResetAfterForkChild();

 private:
  struct Shard {
    mutable absl::Mutex mu;
    const void* gen ABSL_GUARDED_BY(mu) = nullptr;
    absl::flat_hash_map<Hash128, CachedResolution> map ABSL_GUARDED_BY(mu);
  };
  Shard& ShardFor(const Hash128& id) const { return shards_[id.hi % kShards]; }

  static constexpr size_t kOfferSlots = 1 << 14;  // 128 KiB, touched as used

  const size_t per_shard_;
  mutable std::array<Shard, kShards> shards_;
  struct Free {
    void operator()(uint64_t* p) const;
  };
  // kOfferSlots of (key hash | 1), 0 = empty; accessed through std::atomic_ref. calloc'ed: a
  // block this large is fresh zero pages from the kernel, no memset at start-up.
  std::unique_ptr<uint64_t[], Free> offered_;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_RESOLVE_CACHE_H_
