#include "core/index/entry.h"

#include <sys/stat.h>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace hfshim {
namespace {

Entry SampleFile() {
  Entry e;
  e.type = EntryType::kFile;
  e.mode = S_IFREG | 0644;
  e.nlink = 1;
  e.ino = 0x0102030405060708ULL;
  e.size = 5;
  e.mtime_ns = 1700000000123456789LL;
  e.content_hash = Hash128{0x1111111111111111ULL, 0x2222222222222222ULL};
  e.location = {"packs/ab", 16, 5};
  e.block_size = 4 << 20;
  e.block_checksums = {0x9555e8555c62dcfdULL};
  return e;
}

// Golden bytes: this test fails when the entry encoding changes. Changing the encoding requires
// bumping the entry version and updating core/index/FORMAT.md.
TEST(EntryTest, FileEncodingIsPinned) {
  EXPECT_EQ(absl::BytesToHexString(EncodeEntry(SampleFile())),
            "01020000a4810000010000000807060504030201050000000000000015cd853dfe9c9717"
            "11111111111111112222222222222222"
            "08007061636b732f6162"
            "1000000000000000"
            "0500000000000000"
            "00004000"
            "01000000"
            "fddc625c55e85595");
}

Entry SampleLink() {
  Entry l;
  l.type = EntryType::kSymlink;
  l.mode = S_IFLNK | 0777;
  l.ino = 7;
  l.size = 11;
  l.mtime_ns = 1;
  l.symlink_target = "../../blobs";
  return l;
}

TEST(EntryTest, SymlinkAndDirectoryEncodingIsPinned) {
  Entry l = SampleLink();
  EXPECT_EQ(absl::BytesToHexString(EncodeEntry(l)),
            "01030000ffa100000100000007000000000000000b000000000000000100000000000000"
            "0b0000002e2e2f2e2e2f626c6f6273");
  Entry d;
  d.type = EntryType::kDirectory;
  d.mode = S_IFDIR | 0755;
  d.nlink = 3;
  d.ino = 9;
  EXPECT_EQ(absl::BytesToHexString(EncodeEntry(d)),
            "01010000ed41000003000000090000000000000000000000000000000000000000000000");
}

// Format 3: a symlink recording its linked file is entry version 2 (the version 1 layout, then
// u32 link hops and u64 link record); every other entry stays version 1.
TEST(EntryTest, LinkedSymlinkEncodingIsPinned) {
  Entry l = SampleLink();
  l.link_hops = 2;
  l.link_record = 0x1234;
  const std::string bytes = EncodeEntry(l);
  EXPECT_EQ(absl::BytesToHexString(bytes),
            "02030000ffa100000100000007000000000000000b000000000000000100000000000000"
            "0b0000002e2e2f2e2e2f626c6f6273"
            "02000000"
            "3412000000000000");
  auto back = DecodeEntry(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, l);
  std::string no_record = bytes;
  no_record.replace(no_record.size() - 8, 8, std::string(8, '\0'));
  EXPECT_TRUE(absl::IsDataLoss(DecodeEntry(no_record).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeEntry(bytes.substr(0, bytes.size() - 1)).status()));
  Entry d;
  d.type = EntryType::kDirectory;
  std::string dir_v2 = EncodeEntry(d);
  dir_v2[0] = 2;  // version 2 is for symlinks only
  EXPECT_TRUE(absl::IsDataLoss(DecodeEntry(dir_v2).status()));
  std::string v3 = bytes;
  v3[0] = 3;
  EXPECT_NE(DecodeEntry(v3).status().message().find("upgrade hfshim"), std::string::npos);
}

TEST(EntryTest, RoundTrips) {
  Entry f = SampleFile();
  auto back = DecodeEntry(EncodeEntry(f));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, f);
  Entry empty;
  empty.type = EntryType::kFile;
  empty.mode = S_IFREG | 0444;
  back = DecodeEntry(EncodeEntry(empty));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, empty);
}

TEST(EntryTest, RejectsEveryTruncationAndGarbage) {
  const std::string bytes = EncodeEntry(SampleFile());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = DecodeEntry(absl::string_view(bytes).substr(0, n));
    EXPECT_TRUE(absl::IsDataLoss(r.status())) << "prefix of " << n << " bytes";
  }
  EXPECT_TRUE(absl::IsDataLoss(DecodeEntry(bytes + "x").status()));
  std::string wrong_version = bytes;
  wrong_version[0] = 9;
  auto r = DecodeEntry(wrong_version);
  EXPECT_TRUE(absl::IsDataLoss(r.status()));
  EXPECT_NE(r.status().message().find("version 9"), absl::string_view::npos);
  std::string wrong_type = bytes;
  wrong_type[1] = 7;
  EXPECT_TRUE(absl::IsDataLoss(DecodeEntry(wrong_type).status()));
}

TEST(EntryTest, RejectsInconsistentChecksumCounts) {
  Entry f = SampleFile();
  f.block_checksums.push_back(1);  // 2 checksums for 5 bytes in 4 MiB blocks
  EXPECT_TRUE(absl::IsDataLoss(DecodeEntry(EncodeEntry(f)).status()));
  f = SampleFile();
  f.block_size = 3;
  EXPECT_TRUE(absl::IsDataLoss(DecodeEntry(EncodeEntry(f)).status()));
  f = SampleFile();
  f.location.length = 4;
  EXPECT_TRUE(absl::IsDataLoss(DecodeEntry(EncodeEntry(f)).status()));
}

TEST(EntryTest, KeysGroupChildrenOfADirectory) {
  EXPECT_EQ(EntryKey("models--o--m"), std::string("\0models--o--m", 13));
  EXPECT_EQ(EntryKey("models--o--m/blobs/ab"), std::string("models--o--m/blobs\0ab", 21));
  // Every child of "a" sorts before any grandchild, so a listing is one contiguous range.
  EXPECT_LT(EntryKey("a/zzz"), EntryKey("a/b/c"));
}

}  // namespace
}  // namespace hfshim
