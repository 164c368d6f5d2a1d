// S3Store against a real S3-compatible server on loopback (s3rver, started by the fixture).
#include "core/store/s3/s3_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/env/file_util.h"
#include "core/index/generation.h"
#include "core/store/layout.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_servers.h"

namespace hfshim {
namespace {

absl::Time Soon() { return absl::Now() + absl::Seconds(20); }

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

class S3StoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto server = S3rverProcess::Start(dir_->Sub("s3rver"), "bucket");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "s3rver did not start (see above)"; }

  // A store under a prefix unique to the test, so tests never see each other's objects.
  std::unique_ptr<ObjectStore> Store(S3StoreOptions options = {}) {
    const std::string prefix =
        absl::StrCat("t/", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    return NewS3StoreWith(server_->Settings(prefix), options);
  }

  static TempDir* dir_;
  static S3rverProcess* server_;
};
TempDir* S3StoreTest::dir_ = nullptr;
S3rverProcess* S3StoreTest::server_ = nullptr;

TEST_F(S3StoreTest, PutHeadGetRangeRoundTrip) {
  auto store = Store();
  const std::string data = Pattern(100000, 1);
  ASSERT_TRUE(store->Put("packs/p1", data, Soon()).ok());
  auto info = store->Head("packs/p1", Soon());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size, data.size());
  std::string out;
  ASSERT_TRUE(store->GetRange("packs/p1", 0, data.size(), &out, Soon()).ok());
  EXPECT_EQ(out, data);
  ASSERT_TRUE(store->GetRange("packs/p1", 1234, 5000, &out, Soon()).ok());
  EXPECT_EQ(out, data.substr(1234, 5000));
  ASSERT_TRUE(store->GetRange("packs/p1", data.size() - 1, 1, &out, Soon()).ok());
  EXPECT_EQ(out, data.substr(data.size() - 1));
  // Overwrite: readers see the new object.
  ASSERT_TRUE(store->Put("packs/p1", "short", Soon()).ok());
  ASSERT_TRUE(store->GetRange("packs/p1", 0, 5, &out, Soon()).ok());
  EXPECT_EQ(out, "short");
}

TEST_F(S3StoreTest, RangesPastTheEndAreOutOfRangeNeverShort) {
  auto store = Store();
  ASSERT_TRUE(store->Put("k", "0123456789", Soon()).ok());
  std::string out = "untouched";
  absl::Status s = store->GetRange("k", 5, 10, &out, Soon());  // ends past the object
  EXPECT_TRUE(absl::IsOutOfRange(s)) << s;
  s = store->GetRange("k", 20, 1, &out, Soon());  // starts past it (416)
  EXPECT_TRUE(absl::IsOutOfRange(s)) << s;
  EXPECT_TRUE(store->GetRange("k", 10, 0, &out, Soon()).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(absl::IsOutOfRange(store->GetRange("k", 11, 0, &out, Soon())));
}

TEST_F(S3StoreTest, StreamedRangesReachTheSinkExactly) {
  auto store = Store();
  const std::string data = Pattern(3 << 20, 7);
  ASSERT_TRUE(store->Put("data/s", data, Soon()).ok());
  std::string out((2 << 20) + 5, '\0');
  BufferSink sink(absl::MakeSpan(out));
  ASSERT_TRUE(store->GetRangeTo("data/s", 12345, out.size(), &sink, Soon()).ok());
  EXPECT_EQ(out, data.substr(12345, out.size()));
  std::string tail(10, '\0');
  BufferSink past(absl::MakeSpan(tail));
  absl::Status s = store->GetRangeTo("data/s", data.size() - 5, 10, &past, Soon());
  EXPECT_TRUE(absl::IsOutOfRange(s)) << s;
  BufferSink missing(absl::MakeSpan(tail));
  EXPECT_TRUE(absl::IsNotFound(store->GetRangeTo("data/none", 0, 10, &missing, Soon())));
}

TEST_F(S3StoreTest, EmptyObjectsAndOddKeys) {
  auto store = Store();
  const std::string key = "data/a b+c=d&e%f~g(é)";
  ASSERT_TRUE(store->Put(key, "", Soon()).ok());
  auto info = store->Head(key, Soon());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size, 0u);
  std::string out = "x";
  ASSERT_TRUE(store->GetRange(key, 0, 0, &out, Soon()).ok());
  EXPECT_EQ(out, "");
  auto listed = store->List("data/", Soon());
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, key);
}

TEST_F(S3StoreTest, MissingObjectsAreNotFound) {
  auto store = Store();
  std::string out;
  absl::Status s = store->GetRange("data/none", 0, 10, &out, Soon());
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_NE(s.message().find("s3://bucket/t/MissingObjectsAreNotFound/data/none"),
            std::string::npos)
      << s;
  EXPECT_TRUE(absl::IsNotFound(store->Head("data/none", Soon()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store->Put("../escape", "x", Soon())));
}

TEST_F(S3StoreTest, ListIsSortedPrefixedAndStripsTheStorePrefix) {
  auto store = Store();
  for (int i : {3, 1, 2}) ASSERT_TRUE(store->Put(HeadKey(i), absl::StrCat(i), Soon()).ok());
  ASSERT_TRUE(store->Put("heads-not/x", "x", Soon()).ok());
  ASSERT_TRUE(store->Put("data/deep/er/y", "yy", Soon()).ok());
  auto heads = store->List("heads/", Soon());
  ASSERT_TRUE(heads.ok()) << heads.status();
  ASSERT_EQ(heads->size(), 3u);
  EXPECT_EQ((*heads)[0].key, HeadKey(1));
  EXPECT_EQ((*heads)[2].key, HeadKey(3));
  auto all = store->List("", Soon());
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].key, "data/deep/er/y");
  EXPECT_EQ((*all)[0].size, 2u);
  auto none = store->List("nothing/", Soon());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// Listings and HEADs carry the object's ETag (how a node sees that the head it read last is
// unchanged without reading it again), the same from both, and another one after a rewrite.
TEST_F(S3StoreTest, ListingsAndHeadsGiveTheSameEtagUntilTheObjectChanges) {
  auto store = Store();
  ASSERT_TRUE(store->Put(HeadKey(1), "one", Soon()).ok());
  auto listed = store->List("heads/", Soon());
  ASSERT_TRUE(listed.ok() && listed->size() == 1u) << listed.status();
  const std::string etag = (*listed)[0].etag;
  EXPECT_FALSE(etag.empty());
  auto head = store->Head(HeadKey(1), Soon());
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->etag, etag);
  ASSERT_TRUE(store->Put(HeadKey(1), "uno", Soon()).ok());
  listed = store->List("heads/", Soon());
  ASSERT_TRUE(listed.ok() && listed->size() == 1u) << listed.status();
  EXPECT_NE((*listed)[0].etag, etag);
}

TEST_F(S3StoreTest, PutFileStreamsSmallAndMultipartLargeFiles) {
  S3StoreOptions o;
  o.upload.multipart_threshold = 6 << 20;
  o.upload.part_size = 5 << 20;  // S3's minimum part size
  o.upload.parallel = 2;
  auto store = Store(o);
  TempDir tmp;
  const std::string small = Pattern(300000, 2), large = Pattern((12 << 20) + 12345, 3);
  ASSERT_TRUE(WriteFileAtomic(Env::Default(), tmp.Sub("small"), small).ok());
  ASSERT_TRUE(WriteFileAtomic(Env::Default(), tmp.Sub("large"), large).ok());
  ASSERT_TRUE(store->PutFile("data/small", tmp.Sub("small"), Soon()).ok());
  absl::Status s = store->PutFile("data/large", tmp.Sub("large"), Soon());
  ASSERT_TRUE(s.ok()) << s;
  std::string out;
  ASSERT_TRUE(store->GetRange("data/small", 0, small.size(), &out, Soon()).ok());
  EXPECT_EQ(out, small);
  auto info = store->Head("data/large", Soon());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, large.size());
  ASSERT_TRUE(store->GetRange("data/large", 0, large.size(), &out, Soon()).ok());
  EXPECT_TRUE(out == large);
  EXPECT_TRUE(absl::IsNotFound(store->PutFile("data/x", tmp.Sub("absent"), Soon())));
}

TEST_F(S3StoreTest, LargeRangesAreFetchedInParallelParts) {
  S3StoreOptions o;
  o.get_part_size = 256 << 10;
  o.get_parallel = 4;
  auto store = Store(o);
  const std::string data = Pattern(3 << 20, 4);
  ASSERT_TRUE(store->Put("data/big", data, Soon()).ok());
  std::string out;
  ASSERT_TRUE(store->GetRange("data/big", 100, data.size() - 200, &out, Soon()).ok());
  EXPECT_TRUE(out == data.substr(100, data.size() - 200));
  EXPECT_TRUE(absl::IsOutOfRange(store->GetRange("data/big", 100, data.size(), &out, Soon())));
}

// s3rver 3.7.1 ignores If-None-Match on PUT: the store detects it and refuses to pretend.
TEST_F(S3StoreTest, PutIfAbsentDetectsAServerThatIgnoresConditionalWrites) {
  auto store = Store();
  absl::Status s = store->PutIfAbsent(HeadKey(1), "head", Soon());
  ASSERT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("does not honour conditional writes"), std::string::npos) << s;
  EXPECT_NE(s.message().find("HFSHIM_S3_UNSAFE_PUT_IF_ABSENT=1"), std::string::npos) << s;
  EXPECT_TRUE(absl::IsNotFound(store->Head(HeadKey(1), Soon()).status()));
  auto listed = store->List("", Soon());  // the probe object is gone and never listed
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(S3StoreTest, ConcurrentPushersOnAnIgnoringServerAllFailLoudly) {
  std::vector<std::unique_ptr<ObjectStore>> stores;
  for (int i = 0; i < 4; ++i) stores.push_back(Store());
  std::atomic<int> refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      absl::Status s = stores[i]->PutIfAbsent(HeadKey(7), absl::StrCat("pusher ", i), Soon());
      (absl::IsFailedPrecondition(s) ? refused : other)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused.load(), 4);
  EXPECT_EQ(other.load(), 0);
  EXPECT_TRUE(absl::IsNotFound(stores[0]->Head(HeadKey(7), Soon()).status()));
}

TEST_F(S3StoreTest, UnsafeOptInEmulatesPutIfAbsent) {
  S3StoreOptions o;
  o.unsafe_put_if_absent = true;
  auto store = Store(o);
  ASSERT_TRUE(store->PutIfAbsent(HeadKey(1), "first", Soon()).ok());
  absl::Status s = store->PutIfAbsent(HeadKey(1), "second", Soon());
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  std::string out;
  ASSERT_TRUE(store->GetRange(HeadKey(1), 0, 5, &out, Soon()).ok());
  EXPECT_EQ(out, "first");
}

TEST_F(S3StoreTest, HeadProtocolWorksOverS3) {
  S3StoreOptions o;
  o.unsafe_put_if_absent = true;
  auto store = Store(o);
  auto none = FindLatestHead(store.get(), Soon());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  for (uint64_t n = 1; n <= 3; ++n) {
    HeadRecord h{n, IndexKey(ContentHash(absl::StrCat(n))), 1, n};
    ASSERT_TRUE(store->PutIfAbsent(HeadKey(n), EncodeHead(h), Soon()).ok());
  }
  auto latest = FindLatestHead(store.get(), Soon());
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->sequence, 3u);
}

TEST_F(S3StoreTest, MissingBucketBadKeyAndDeadServerSayWhatToFix) {
  S3Settings s = server_->Settings("p");
  s.bucket = "no-such-bucket";
  auto store = NewS3StoreWith(s, {});
  std::string out;
  absl::Status st = store->GetRange("k", 0, 1, &out, Soon());
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find("does not exist"), std::string::npos) << st;
  EXPECT_TRUE(absl::IsFailedPrecondition(store->List("heads/", Soon()).status()));

  s = server_->Settings("p");
  s.credentials = {"WRONGKEY", "WRONGSECRET", ""};
  store = NewS3StoreWith(s, {});
  st = store->Put("k", "x", Soon());
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  EXPECT_NE(st.message().find("InvalidAccessKeyId"), std::string::npos) << st;
  EXPECT_EQ(st.message().find("WRONGSECRET"), std::string::npos) << st;

  s = server_->Settings("p", absl::StrCat("http://127.0.0.1:", FreeLoopbackPort()));
  store = NewS3StoreWith(s, {});
  st = store->Head("k", Soon()).status();
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
  EXPECT_NE(st.message().find("cannot connect"), std::string::npos) << st;
}

TEST_F(S3StoreTest, OpenStoreResolvesS3UrlsFromTheEnvironment) {
  setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
  setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
  setenv("AWS_REGION", "us-east-1", 1);
  Config config;
  config.s3_endpoint = server_->endpoint();
  auto store = OpenStore("s3://bucket/t/open-store/", config);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Describe(), "s3://bucket/t/open-store");
  ASSERT_TRUE((*store)->Put("a", "abc", Soon()).ok());
  std::string out;
  ASSERT_TRUE((*store)->GetRange("a", 1, 2, &out, Soon()).ok());
  EXPECT_EQ(out, "bc");
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  setenv("HOME", dir_->path().c_str(), 1);
  auto no_creds = OpenStore("s3://bucket/x", config);
  EXPECT_TRUE(absl::IsFailedPrecondition(no_creds.status())) << no_creds.status();
}

// A fork child must not reuse the parent's connections; both keep working.
TEST_F(S3StoreTest, WorksInAForkChildAndInTheParentAfterwards) {
  auto store = Store();
  ASSERT_TRUE(store->Put("k", "forked", Soon()).ok());
  std::string out;
  ASSERT_TRUE(store->GetRange("k", 0, 6, &out, Soon()).ok());  // the parent holds a connection
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string child;
    const bool ok = store->GetRange("k", 0, 6, &child, Soon()).ok() && child == "forked" &&
                    store->Put("from-child", "c", Soon()).ok();
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(store->GetRange("k", 0, 6, &out, Soon()).ok());
  EXPECT_EQ(out, "forked");
  EXPECT_TRUE(store->Head("from-child", Soon()).ok());
}

}  // namespace
}  // namespace hfshim
