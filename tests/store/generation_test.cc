#include "core/index/generation.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/hash.h"
#include "core/env/file_util.h"
#include "core/index/index_writer.h"
#include "core/store/layout.h"
#include "core/store/local_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

absl::Time Later() { return absl::Now() + absl::Seconds(30); }

TEST(HeadRecordTest, EncodingIsPinnedAndRoundTrips) {
  HeadRecord h{7, "index/0123456789abcdef0123456789abcdef.mdb", 99, 12};
  EXPECT_EQ(EncodeHead(h),
            "hfshim-head 1\nsequence 7\nindex index/0123456789abcdef0123456789abcdef.mdb\n"
            "created_unix_ns 99\nentries 12\n");
  EXPECT_EQ(*DecodeHead(EncodeHead(h)), h);
  EXPECT_TRUE(absl::IsDataLoss(DecodeHead("hfshim-head 2\nsequence 1\n").status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeHead("garbage").status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeHead("hfshim-head 1\nsequence x\n").status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeHead("hfshim-head 1\nsequence 1\nindex bad\n").status()));
}

TEST(GenerationTest, LatestHeadAndFetch) {
  TempDir tmp;
  auto store = NewLocalStore(tmp.Sub("store"));
  auto none = FindLatestHead(store.get(), Later());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  const std::string built = tmp.Sub("built.mdb");
  auto w = IndexWriter::Create(built);
  ASSERT_TRUE(w.ok());
  Entry d;
  d.type = EntryType::kDirectory;
  d.mode = S_IFDIR | 0755;
  ASSERT_TRUE((*w)->Add("models--a--b", d).ok());
  ASSERT_TRUE((*w)->Finish(IndexMeta{}).ok());
  std::string bytes = *ReadFile(Env::Default(), built);
  const std::string key = IndexKey(ContentHash(bytes));
  ASSERT_TRUE(store->Put(key, bytes, Later()).ok());
  for (uint64_t n : {1, 2, 10}) {
    ASSERT_TRUE(store->PutIfAbsent(HeadKey(n), EncodeHead({n, key, 0, 1}), Later()).ok());
  }
  auto head = FindLatestHead(store.get(), Later());
  ASSERT_TRUE(head.ok() && head->has_value()) << head.status();
  EXPECT_EQ((*head)->sequence, 10u);

  auto path = FetchGeneration(store.get(), **head, tmp.Sub("cache/index"), Env::Default(), Later());
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*ReadFile(Env::Default(), *path), bytes);
  // A second fetch uses the local copy even with the store gone.
  auto gone = NewLocalStore(tmp.Sub("nowhere"));
  EXPECT_TRUE(
      FetchGeneration(gone.get(), **head, tmp.Sub("cache/index"), Env::Default(), Later()).ok());
}

TEST(GenerationTest, CorruptDownloadIsDataLossAndNotKept) {
  TempDir tmp;
  auto store = NewLocalStore(tmp.Sub("store"));
  const std::string key = IndexKey(ContentHash("the real bytes"));
  ASSERT_TRUE(store->Put(key, "tampered bytes", Later()).ok());
  HeadRecord head{1, key, 0, 0};
  auto path = FetchGeneration(store.get(), head, tmp.Sub("idx"), Env::Default(), Later());
  EXPECT_TRUE(absl::IsDataLoss(path.status())) << path.status();
  auto names = Env::Default()->ListDir(tmp.Sub("idx"));
  EXPECT_TRUE(!names.ok() || names->empty());
}

}  // namespace
}  // namespace hfshim
