// HashCString: a fast 64-bit hash of a NUL-terminated string, its length found on the way, for
// hot paths that key small tables by a path they have not measured (core/vfs/link_resolver.cc).
// Not a content hash: not stable across versions, not for anything stored or shared.
//
// It loads the string 8 bytes at a time, so a load may extend past the terminator, but never
// across a 4 KiB boundary (every page size is a multiple): it reads only pages the string lies
// on, as glibc's strlen does. AddressSanitizer would report those bytes, so it is not
// instrumented. The hash depends on the bytes alone, not on where they are.
// PRELOAD-SAFE: no calls, no allocation.
#ifndef HFSHIM_CORE_BASE_CSTRING_HASH_H_
#define HFSHIM_CORE_BASE_CSTRING_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hfshim {

namespace cstring_hash_internal {

constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;

inline uint64_t Mix(uint64_t h, uint64_t word) {
  h = (h ^ word) * kMul;
  return h ^ (h >> 29);
}

}  // namespace cstring_hash_internal

[[gnu::no_sanitize_address]] inline uint64_t HashCString(const char* s, uint64_t seed) {
  using cstring_hash_internal::Mix;
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  constexpr uintptr_t kPage = 4096;
  uint64_t h = seed;
  size_t n = 0;
  while (true) {
    const char* p = s + n;
    uint64_t word = 0;
    if ((reinterpret_cast<uintptr_t>(p) & (kPage - 1)) > kPage - 8) {
      // The next 8 bytes cross a page: byte by byte up to the terminator.
      size_t j = 0;
      for (; j < 8 && p[j] != '\0'; ++j) {
        word |= uint64_t{static_cast<unsigned char>(p[j])} << (8 * j);
      }
      h = Mix(h, word);
      n += j;
      if (j < 8) break;
      continue;
    }
    std::memcpy(&word, p, 8);
    // The lowest byte flagged here is the first zero byte (bytes above it may be flagged
    // falsely, which does not matter).
    const uint64_t zeros = (word - kOnes) & ~word & kHighs;
    if (zeros != 0) {
      const unsigned len = static_cast<unsigned>(__builtin_ctzll(zeros)) / 8;
      word = len == 0 ? 0 : word & (~uint64_t{0} >> (64 - 8 * len));
      h = Mix(h, word);
      n += len;
      break;
    }
    h = Mix(h, word);
    n += 8;
  }
  h = (h ^ n) * 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_CSTRING_HASH_H_
