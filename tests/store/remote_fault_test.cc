// The S3 store (wrapped in its RetryingStore, as OpenStore builds it) behind a fault-injecting
// proxy in front of s3rver: bytes are right or the call fails cleanly, retries are bounded
// (counted at the proxy), never on 403/404, and no call outlives its deadline.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/env/file_util.h"
#include "core/store/retrying_store.h"
#include "core/store/s3/s3_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_servers.h"

namespace hfshim {
namespace {

constexpr int kRetries = 3;

std::string Bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) % 251);
  return s;
}

class RemoteFaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto server = S3rverProcess::Start(dir_->Sub("s3rver"), "faults");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    auto proxy = FaultProxyProcess::Forwarding(server_->endpoint(), dir_->path());
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = proxy->release();
  }
  static void TearDownTestSuite() {
    delete proxy_;
    delete server_;
    delete dir_;
    proxy_ = nullptr;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(proxy_, nullptr) << "s3rver or the proxy did not start (see above)";
    S3StoreOptions o;
    o.connect_timeout_seconds = 1;  // low-speed window 2 s: a stalled attempt is cut at ~2 s
    o.unsafe_put_if_absent = true;  // s3rver ignores If-None-Match (see s3_store_test.cc)
    const std::string prefix =
        absl::StrCat("f/", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    store_ = NewRetryingStore(NewS3StoreWith(server_->Settings(prefix, proxy_->endpoint()), o),
                              kRetries);
    data_ = Bytes(200000);
    ASSERT_TRUE(store_->Put("obj", data_, Deadline(10)).ok());
    proxy_->Disarm();
    proxy_->ResetCount();
  }
  void TearDown() override {
    if (proxy_ != nullptr) proxy_->Disarm();
  }

  static absl::Time Deadline(double seconds) { return absl::Now() + absl::Seconds(seconds); }

  absl::Status Get(std::string* out, double deadline_seconds = 20) {
    return store_->GetRange("obj", 0, data_.size(), out, Deadline(deadline_seconds));
  }

  static TempDir* dir_;
  static S3rverProcess* server_;
  static FaultProxyProcess* proxy_;
  std::unique_ptr<ObjectStore> store_;
  std::string data_;
};
TempDir* RemoteFaultTest::dir_ = nullptr;
S3rverProcess* RemoteFaultTest::server_ = nullptr;
FaultProxyProcess* RemoteFaultTest::proxy_ = nullptr;

TEST_F(RemoteFaultTest, TransientServerErrorsAreRetried) {
  for (const char* fault : {"status503", "status500", "slowdown", "status429"}) {
    proxy_->ResetCount();
    proxy_->Arm(fault, 2, "GET");
    std::string out;
    absl::Status s = Get(&out);
    ASSERT_TRUE(s.ok()) << fault << ": " << s;
    EXPECT_EQ(out, data_) << fault;
    EXPECT_EQ(proxy_->Count("GET"), 3) << fault;
  }
}

TEST_F(RemoteFaultTest, PersistentFailuresStopAfterTheRetryBudget) {
  proxy_->Arm("status503", 1000, "GET");
  std::string out = "untouched";
  absl::Status s = Get(&out);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("gave up after 4 attempts"), std::string::npos) << s;
  EXPECT_EQ(proxy_->Count("GET"), kRetries + 1);
}

TEST_F(RemoteFaultTest, ForbiddenAndMissingAreNeverRetried) {
  proxy_->Arm("status403", 1000, "GET");
  std::string out;
  absl::Status s = Get(&out);
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_NE(s.message().find("AccessDenied"), std::string::npos) << s;
  EXPECT_EQ(proxy_->Count("GET"), 1);
  proxy_->Disarm();
  proxy_->ResetCount();
  proxy_->Arm("status404", 1000, "HEAD");
  EXPECT_TRUE(absl::IsNotFound(store_->Head("obj", Deadline(10)).status()));
  EXPECT_EQ(proxy_->Count("HEAD"), 1);
}

TEST_F(RemoteFaultTest, ResetsAndTruncatedBodiesAreRetriedNeverReturned) {
  for (const char* fault : {"reset", "truncate"}) {
    proxy_->ResetCount();
    proxy_->Arm(fault, 2, "GET");
    std::string out;
    absl::Status s = Get(&out);
    ASSERT_TRUE(s.ok()) << fault << ": " << s;
    EXPECT_TRUE(out == data_) << fault;
    EXPECT_EQ(proxy_->Count("GET"), 3) << fault;
  }
  proxy_->Arm("truncate", 1000, "GET");
  std::string out = "untouched";
  absl::Status s = Get(&out);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(out.size(), data_.size() / 2);  // the short body never reaches the caller as data
}

TEST_F(RemoteFaultTest, AStallNeverOutlivesTheDeadline) {
  proxy_->Arm("stall", 1000, "GET", "", 30);
  std::string out;
  const absl::Time start = absl::Now();
  absl::Status s = Get(&out, /*deadline_seconds=*/3);
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_LE(took, absl::Seconds(3) + absl::Milliseconds(1500)) << took;
}

TEST_F(RemoteFaultTest, OneStalledAttemptIsCutAndRetried) {
  proxy_->Arm("stall", 1, "GET", "", 30);
  std::string out;
  const absl::Time start = absl::Now();
  absl::Status s = Get(&out, /*deadline_seconds=*/20);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(out, data_);
  EXPECT_LE(absl::Now() - start, absl::Seconds(8));  // cut by the low-speed window, not at 20 s
  EXPECT_EQ(proxy_->Count("GET"), 2);
}

// Integrity is the cache layer's job (block checksums): the store passes bytes through as sent.
TEST_F(RemoteFaultTest, FlippedBytesPassThroughTheStoreLayer) {
  proxy_->Arm("flip", 1, "GET");
  std::string out;
  ASSERT_TRUE(Get(&out).ok());
  ASSERT_EQ(out.size(), data_.size());
  EXPECT_NE(out, data_);
  EXPECT_EQ(static_cast<char>(out[0] ^ 0xFF), data_[0]);
}

TEST_F(RemoteFaultTest, WritesAndListsAreRetriedToo) {
  proxy_->Arm("status503", 1, "PUT");
  ASSERT_TRUE(store_->Put("w", "written", Deadline(10)).ok());
  EXPECT_EQ(proxy_->Count("PUT"), 2);
  proxy_->Arm("reset", 1, "GET", "list-type");
  auto listed = store_->List("", Deadline(10));
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 2u);
}

// A put-if-absent whose answer was lost is retried, sees its own object and reports success.
TEST_F(RemoteFaultTest, PutIfAbsentWithALostAnswerIsStillOurs) {
  store_->PutIfAbsent("heads/probe-warmup", "w", Deadline(10)).IgnoreError();  // runs the probe
  proxy_->ResetCount();
  proxy_->Arm("drop", 1, "PUT");
  absl::Status s = store_->PutIfAbsent("heads/x", "mine", Deadline(10));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(proxy_->Count("PUT"), 1);  // created once; the retry found it
  s = store_->PutIfAbsent("heads/x", "theirs", Deadline(10));
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
}

// On a server that honours If-None-Match (the proxy emulates one), PutIfAbsent needs no opt-in
// and exactly one of many concurrent creators wins.
TEST_F(RemoteFaultTest, OnAConformingServerExactlyOneConcurrentCreatorWins) {
  proxy_->HonourConditionalPuts(true);
  auto store = NewRetryingStore(
      NewS3StoreWith(server_->Settings("conditional", proxy_->endpoint()), S3StoreOptions()),
      kRetries);
  ASSERT_TRUE(store->PutIfAbsent("heads/1", "one", Deadline(10)).ok());
  absl::Status s = store->PutIfAbsent("heads/1", "again", Deadline(10));
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  constexpr int kThreads = 8;
  std::atomic<int> won{0}, lost{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      absl::Status st = store->PutIfAbsent("heads/2", absl::StrCat("pusher ", i), Deadline(20));
      if (st.ok()) {
        ++won;
      } else if (absl::IsAlreadyExists(st)) {
        ++lost;
      }
    });
  }
  for (auto& t : threads) t.join();
  proxy_->HonourConditionalPuts(false);
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), kThreads - 1);
  std::string out;
  ASSERT_TRUE(store->GetRange("heads/1", 0, 3, &out, Deadline(10)).ok());
  EXPECT_EQ(out, "one");
}

// Keep-alive: sequential requests share one connection; a fork child opens its own and the
// parent keeps using its connection afterwards.
TEST_F(RemoteFaultTest, ConnectionsAreReusedAndNeverSharedWithAForkChild) {
  ASSERT_TRUE(store_->Head("obj", Deadline(10)).ok());  // warm
  proxy_->ResetCount();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store_->Head("obj", Deadline(10)).ok());
  EXPECT_EQ(proxy_->Count("HEAD"), 20);
  EXPECT_EQ(proxy_->Count("connections"), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(store_->Head("obj", Deadline(10)).ok() ? 0 : 1);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(proxy_->Count("connections"), 1);  // the child's own
  ASSERT_TRUE(store_->Head("obj", Deadline(10)).ok());
  EXPECT_EQ(proxy_->Count("connections"), 1);  // the parent's connection is still good
}

// s3rver does not check SigV4 signatures; the proxy does (an independent implementation), on
// the requests exactly as they travel: odd keys, queries, ranges, multipart, conditional PUTs.
TEST_F(RemoteFaultTest, SignaturesVerifyOnTheWire) {
  proxy_->VerifySignatures("S3RVER");
  S3StoreOptions o;
  o.unsafe_put_if_absent = true;
  o.upload.multipart_threshold = 6 << 20;
  o.upload.part_size = 5 << 20;
  auto store = NewRetryingStore(
      NewS3StoreWith(server_->Settings("sig/v4 +&=", proxy_->endpoint()), o), kRetries);
  const int before = proxy_->Verified();
  const std::string key = "data/a b+c=d&e%f~g(\xc3\xa9)*!'";
  ASSERT_TRUE(store->Put(key, "signed", Deadline(10)).ok());
  std::string out;
  ASSERT_TRUE(store->GetRange(key, 1, 4, &out, Deadline(10)).ok());
  EXPECT_EQ(out, "igne");
  ASSERT_TRUE(store->Head(key, Deadline(10)).ok());
  auto listed = store->List("data/a b", Deadline(10));
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, key);
  ASSERT_TRUE(store->PutIfAbsent("heads/1", "h", Deadline(10)).ok());
  TempDir tmp;
  const std::string big = Bytes((11 << 20) + 3);
  ASSERT_TRUE(WriteFileAtomic(Env::Default(), tmp.Sub("big"), big).ok());
  absl::Status s = store->PutFile("data/big", tmp.Sub("big"), Deadline(30));
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(store->GetRange("data/big", 0, big.size(), &out, Deadline(30)).ok());
  EXPECT_TRUE(out == big);
  EXPECT_GE(proxy_->Verified() - before, 14);

  S3Settings wrong = server_->Settings("sig", proxy_->endpoint());
  wrong.credentials.secret_access_key = "NOT-THE-SECRET";
  s = NewS3StoreWith(wrong, o)->Put("k", "v", Deadline(10));
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_NE(s.message().find("SignatureDoesNotMatch"), std::string::npos) << s;
  EXPECT_NE(s.message().find("wrong secret key"), std::string::npos) << s;
  EXPECT_EQ(s.message().find("NOT-THE-SECRET"), std::string::npos) << s;
  proxy_->VerifySignatures("");
}

}  // namespace
}  // namespace hfshim
