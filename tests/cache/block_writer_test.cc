// BlockWriter: streamed fills mark a block only once all its bytes arrived and verified.
#include "core/cache/block_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "core/cache/partial_file.h"
#include "core/store/range_sink.h"
#include "tests/cache/cache_fixture.h"

namespace hfshim {
namespace {

constexpr char kBig[] = "models--o--m/snapshots/r/big.bin";  // 3 blocks of 1 MiB
constexpr size_t kBlock = 1 << 20;

class BlockWriterTest : public DiskCacheTest {
 protected:
  void SetUp() override {
    DiskCacheTest::SetUp();
    entry_ = EntryOf(kBig);
    ASSERT_TRUE(MakeDirs(Env::Default(), tmp_.Sub("c")).ok());
    auto partial =
        PartialFile::OpenOrCreate(Env::Default(), tmp_.Sub("c") + "/big", entry_, Later());
    ASSERT_TRUE(partial.ok()) << partial.status();
    partial_ = *std::move(partial);
    ASSERT_NE(partial_, nullptr);
  }

  // Feeds `data` in pieces of `piece` bytes, as a network read would.
  static absl::Status FeedInPieces(absl::string_view data, size_t piece, RangeSink* sink) {
    for (size_t at = 0; at < data.size(); at += piece) {
      if (absl::Status s = FeedSink(data.substr(at, piece), sink); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  std::string ReadData(uint64_t off, size_t len) {
    std::string out(len, '\0');
    int fd = open(partial_->data_path().c_str(), O_RDONLY);
    EXPECT_EQ(pread(fd, out.data(), len, static_cast<off_t>(off)), static_cast<ssize_t>(len));
    close(fd);
    return out;
  }

  Entry entry_;
  std::unique_ptr<PartialFile> partial_;
};

TEST_F(BlockWriterTest, GoodBlocksAreWrittenAndMarked) {
  const std::string& big = files_[kBig];
  std::string staging(64 << 10, '\0');
  BlockWriter w(partial_.get(), 0, 3, absl::MakeSpan(staging));
  ASSERT_TRUE(FeedInPieces(big, 10000, &w).ok());
  EXPECT_EQ(w.blocks_done(), 3u);
  EXPECT_TRUE(partial_->Complete());
  EXPECT_EQ(ReadData(0, big.size()), big);
  EXPECT_TRUE(w.Room().empty()) << "the range is complete";
}

TEST_F(BlockWriterTest, CorruptBlockIsNeverMarkedAndRewindKeepsTheGoodOnes) {
  std::string body = files_[kBig].substr(0, 2 * kBlock);
  body[kBlock + 12345] ^= 1;  // block 1 damaged
  std::string staging(64 << 10, '\0');
  BlockWriter w(partial_.get(), 0, 2, absl::MakeSpan(staging));
  absl::Status s = FeedInPieces(body, 4096, &w);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("block 1"), std::string::npos) << s;
  EXPECT_TRUE(partial_->Present(0));
  EXPECT_FALSE(partial_->Present(1));
  EXPECT_EQ(w.mismatches(), 1);
  // A second read resumes at block 1 and completes it.
  EXPECT_EQ(w.Rewind(), kBlock);
  ASSERT_TRUE(FeedInPieces(files_[kBig].substr(kBlock, kBlock), 7777, &w).ok());
  EXPECT_TRUE(partial_->Present(1));
  EXPECT_FALSE(partial_->Present(2));
  EXPECT_EQ(ReadData(0, 2 * kBlock), files_[kBig].substr(0, 2 * kBlock));
}

TEST_F(BlockWriterTest, TruncatedBodyLeavesTheCutBlockUnmarked) {
  std::string staging(64 << 10, '\0');
  BlockWriter w(partial_.get(), 1, 2, absl::MakeSpan(staging));
  // Everything of block 1 and all but the last byte of block 2 (the content's last block).
  const std::string& big = files_[kBig];
  ASSERT_TRUE(FeedInPieces(big.substr(kBlock, 2 * kBlock - 1), 65536, &w).ok());
  EXPECT_TRUE(partial_->Present(1));
  EXPECT_FALSE(partial_->Present(2)) << "a block one byte short is not marked";
  EXPECT_EQ(w.blocks_done(), 1u);
  EXPECT_EQ(w.Rewind(), kBlock);
}

TEST_F(BlockWriterTest, BytesBeyondTheRangeAreRefused) {
  std::string staging(64 << 10, '\0');
  BlockWriter w(partial_.get(), 2, 1, absl::MakeSpan(staging));
  const std::string& big = files_[kBig];
  std::string body = big.substr(2 * kBlock) + "extra";
  EXPECT_FALSE(FeedSink(body, &w).ok());
  EXPECT_TRUE(partial_->Present(2));
}

TEST_F(BlockWriterTest, ReadersThatCachedTheHoleSeeTheBlockAfterTheMark) {
  // A reader's read-ahead may have cached the hole of a block before it is filled: after the
  // mark, reads must return the block's bytes.
  EXPECT_EQ(ReadData(0, 2 * kBlock), std::string(2 * kBlock, '\0'));
  BlockWriter w(partial_.get(), 0, 1, ThreadStagingBuffer(256 << 10));
  ASSERT_TRUE(FeedInPieces(files_[kBig].substr(0, kBlock), 65536, &w).ok());
  ASSERT_TRUE(partial_->Present(0));
  EXPECT_EQ(ReadData(0, kBlock), files_[kBig].substr(0, kBlock));
}

TEST_F(BlockWriterTest, ThreadStagingBufferIsAlignedAndReused) {
  absl::Span<char> a = ThreadStagingBuffer(1000);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a.size(), 4096u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 4096, 0u);
  absl::Span<char> b = ThreadStagingBuffer(4096);
  EXPECT_EQ(a.data(), b.data());
}

}  // namespace
}  // namespace hfshim
