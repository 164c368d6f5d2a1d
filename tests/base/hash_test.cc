#include "core/base/hash.h"

#include "gtest/gtest.h"

namespace hfshim {
namespace {

TEST(HashTest, ContentHashIsStableXxh3) {
  // Golden values: XXH3-128 / XXH3-64 of "hello". A change here changes every content address.
  Hash128 h = ContentHash("hello");
  EXPECT_EQ(h.Hex(), "b5e9c1ad071b3e7fc779cfaa5e523818");
  EXPECT_EQ(BlockChecksum("hello"), 0x9555e8555c62dcfdULL);
}

TEST(HashTest, Hex64IsSixteenDigitsMostSignificantFirst) {
  char out[17] = {};
  Hex64To(0x0123456789abcdefULL, out);
  EXPECT_STREQ(out, "0123456789abcdef");
  Hex64To(0xf0, out);
  EXPECT_STREQ(out, "00000000000000f0");
}

TEST(HashTest, HexRoundTrips) {
  Hash128 h = ContentHash("some content");
  Hash128 back;
  ASSERT_TRUE(Hash128::FromHex(h.Hex(), &back));
  EXPECT_EQ(h, back);
  EXPECT_FALSE(Hash128::FromHex("xyz", &back));
  EXPECT_FALSE(Hash128::FromHex(std::string(32, 'g'), &back));
}

TEST(HashTest, StreamingMatchesOneShot) {
  std::string data(100000, 'a');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  ContentHasher hasher;
  hasher.Update(absl::string_view(data).substr(0, 1234));
  hasher.Update(absl::string_view(data).substr(1234));
  EXPECT_EQ(hasher.Finish(), ContentHash(data));
}

TEST(HashTest, BlockHasherMatchesBlockChecksumAndResets) {
  std::string data(300000, 'a');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 13);
  BlockHasher hasher;
  hasher.Update("junk");
  hasher.Reset();
  for (size_t at = 0; at < data.size(); at += 4097) {
    hasher.Update(absl::string_view(data).substr(at, 4097));
  }
  EXPECT_EQ(hasher.Finish(), BlockChecksum(data));
  hasher.Reset();
  EXPECT_EQ(hasher.Finish(), BlockChecksum(""));
}

TEST(HashTest, PathHashDiffersFromChecksum) {
  EXPECT_NE(PathHash("a"), BlockChecksum("a"));
  EXPECT_EQ(PathHash("a/b"), PathHash("a/b"));
}

}  // namespace
}  // namespace hfshim
