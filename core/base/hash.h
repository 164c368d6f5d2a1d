// Content hashing: XXH3-128 names content (content addressing, deduplication) and XXH3-64
// checksums every block. Both are stable across versions of xxHash (the xxh3 spec is frozen).
#ifndef HFSHIM_CORE_BASE_HASH_H_
#define HFSHIM_CORE_BASE_HASH_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace hfshim {

// A 128-bit content hash. hi/lo are XXH128's high64/low64.
struct Hash128 {
  uint64_t hi = 0;
  uint64_t lo = 0;
  bool operator==(const Hash128&) const = default;
  // 32 lowercase hex digits, hi first.
  std::string Hex() const;
  // Hex() without an allocation: writes exactly kHexChars characters (no NUL) at `out`.
  static constexpr size_t kHexChars = 32;
  void HexTo(char* out) const;
  // Parses Hex() output; false on malformed input.
  static bool FromHex(absl::string_view hex, Hash128* out);
  template <typename H>
  friend H AbslHashValue(H h, const Hash128& x) {
    return H::combine(std::move(h), x.hi, x.lo);
  }
};

Hash128 ContentHash(absl::string_view data);
uint64_t BlockChecksum(absl::string_view data);
// The 64-bit hash of a path, used to derive stable inode numbers.
uint64_t PathHash(absl::string_view path);

// `v` as 16 lowercase hex digits (most significant first) at `out`, no NUL. PRELOAD-SAFE.
void Hex64To(uint64_t v, char* out);

// Incremental XXH3-128 over a stream (a file read in chunks). Not thread-safe.
class ContentHasher {
 public:
  ContentHasher();
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;
  void Update(absl::string_view data);
  Hash128 Finish() const;

 private:
  void* state_;  // XXH3_state_t*
};

// Incremental BlockChecksum (XXH3-64) over a block received in pieces: equal to
// BlockChecksum() of the concatenation. Not thread-safe.
class BlockHasher {
 public:
  BlockHasher();
  ~BlockHasher();
  BlockHasher(const BlockHasher&) = delete;
  BlockHasher& operator=(const BlockHasher&) = delete;
  // Starts over (an empty block).
  void Reset();
  void Update(absl::string_view data);
  uint64_t Finish() const;

 private:
  void* state_;  // XXH3_state_t*
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_HASH_H_
