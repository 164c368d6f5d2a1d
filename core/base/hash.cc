#include "core/base/hash.h"

#include <xxhash.h>

#include <array>
#include <cstring>

namespace hfshim {

namespace {
// The two hex digits of every byte value: a cache file's name is spelled on every open.
constexpr std::array<char, 512> kHexPairs = [] {
  constexpr char kDigits[] = "0123456789abcdef";
  std::array<char, 512> pairs{};
  for (int b = 0; b < 256; ++b) {
    pairs[2 * b] = kDigits[b >> 4];
    pairs[2 * b + 1] = kDigits[b & 0xf];
  }
  return pairs;
}();

}  // namespace

void Hex64To(uint64_t v, char* out) {
  for (int i = 7; i >= 0; --i, v >>= 8) std::memcpy(out + 2 * i, &kHexPairs[2 * (v & 0xff)], 2);
}

void Hash128::HexTo(char* out) const {
  Hex64To(hi, out);
  Hex64To(lo, out + 16);
}

std::string Hash128::Hex() const {
  std::string hex(kHexChars, '0');
  HexTo(&hex[0]);
  return hex;
}

bool Hash128::FromHex(absl::string_view hex, Hash128* out) {
  if (hex.size() != 32) return false;
  uint64_t parts[2] = {0, 0};
  for (size_t i = 0; i < 32; ++i) {
    char c = hex[i];
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      return false;
    }
    parts[i / 16] = (parts[i / 16] << 4) | static_cast<uint64_t>(v);
  }
  out->hi = parts[0];
  out->lo = parts[1];
  return true;
}

Hash128 ContentHash(absl::string_view data) {
  XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  return Hash128{h.high64, h.low64};
}

uint64_t BlockChecksum(absl::string_view data) { return XXH3_64bits(data.data(), data.size()); }

uint64_t PathHash(absl::string_view path) {
  // A fixed seed keeps inode numbers distinct from plain content checksums of the same bytes.
  constexpr uint64_t kPathSeed = 0x68667368696d; /* "hfshim" */
  return XXH3_64bits_withSeed(path.data(), path.size(), kPathSeed);
}

ContentHasher::ContentHasher() : state_(XXH3_createState()) {
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(state_));
}
ContentHasher::~ContentHasher() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void ContentHasher::Update(absl::string_view data) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data.data(), data.size());
}
Hash128 ContentHasher::Finish() const {
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  return Hash128{h.high64, h.low64};
}

BlockHasher::BlockHasher() : state_(XXH3_createState()) { Reset(); }
BlockHasher::~BlockHasher() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void BlockHasher::Reset() { XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_)); }
void BlockHasher::Update(absl::string_view data) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), data.data(), data.size());
}
uint64_t BlockHasher::Finish() const {
  return XXH3_64bits_digest(static_cast<XXH3_state_t*>(state_));
}

}  // namespace hfshim
