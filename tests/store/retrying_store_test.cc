// RetryingStore and RetryPolicy over a local store with injected failures: which statuses are
// retried, how many times, and never past the deadline.
#include "core/store/retrying_store.h"

#include <deque>

#include "core/stats/stats.h"
#include "core/store/local_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

// Fails the next calls with queued statuses, then forwards; `create_then_fail` makes the next
// PutIfAbsent succeed on the target and still report Unavailable (a lost answer).
class FaultInjectingStore final : public ObjectStore {
 public:
  explicit FaultInjectingStore(ObjectStore* target) : target_(target) {}
  std::deque<absl::Status> failures;
  bool create_then_fail = false;
  int calls = 0;

  absl::Status GetRange(absl::string_view k, uint64_t o, uint64_t n, std::string* out,
                        absl::Time d) override {
    if (auto s = Next(); !s.ok()) return s;
    return target_->GetRange(k, o, n, out, d);
  }
  // With `cut_after` set, the next streamed read feeds that many bytes, then fails (a dropped
  // connection); `offsets` records where each streamed read started.
  uint64_t cut_after = 0;
  std::vector<uint64_t> offsets;
  absl::Status GetRangeTo(absl::string_view k, uint64_t o, uint64_t n, RangeSink* sink,
                          absl::Time d) override {
    offsets.push_back(o);
    if (auto s = Next(); !s.ok()) return s;
    if (cut_after == 0) return ObjectStore::GetRangeTo(k, o, n, sink, d);
    std::string part;
    if (auto s = target_->GetRange(k, o, cut_after, &part, d); !s.ok()) return s;
    cut_after = 0;
    if (auto s = FeedSink(part, sink); !s.ok()) return s;
    return absl::UnavailableError("connection reset mid-body");
  }
  absl::StatusOr<ObjectInfo> Head(absl::string_view k, absl::Time d) override {
    if (auto s = Next(); !s.ok()) return s;
    return target_->Head(k, d);
  }
  absl::Status Put(absl::string_view k, absl::string_view v, absl::Time d) override {
    if (auto s = Next(); !s.ok()) return s;
    return target_->Put(k, v, d);
  }
  absl::Status PutFile(absl::string_view k, const std::string& p, absl::Time d) override {
    if (auto s = Next(); !s.ok()) return s;
    return target_->PutFile(k, p, d);
  }
  absl::Status PutIfAbsent(absl::string_view k, absl::string_view v, absl::Time d) override {
    if (create_then_fail) {
      create_then_fail = false;
      ++calls;
      EXPECT_TRUE(target_->PutIfAbsent(k, v, d).ok());
      return absl::UnavailableError("connection reset after the server stored it");
    }
    if (auto s = Next(); !s.ok()) return s;
    return target_->PutIfAbsent(k, v, d);
  }
  absl::StatusOr<std::vector<ObjectInfo>> List(absl::string_view p, absl::Time d) override {
    if (auto s = Next(); !s.ok()) return s;
    return target_->List(p, d);
  }
  std::string Describe() const override { return "faulty:" + target_->Describe(); }

 private:
  absl::Status Next() {
    ++calls;
    if (failures.empty()) return absl::OkStatus();
    absl::Status s = failures.front();
    failures.pop_front();
    return s;
  }
  ObjectStore* target_;
};

class RetryingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    local_ = NewLocalStore(dir_.path());
    auto faulty = std::make_unique<FaultInjectingStore>(local_.get());
    faulty_ = faulty.get();
    store_ = NewRetryingStore(std::move(faulty), 3);
    ASSERT_TRUE(local_->Put("k", "value", Soon()).ok());
  }
  static absl::Time Soon() { return absl::Now() + absl::Seconds(30); }

  TempDir dir_;
  std::unique_ptr<ObjectStore> local_, store_;
  FaultInjectingStore* faulty_ = nullptr;
};

TEST_F(RetryingStoreTest, RetriesTransientFailuresUpToTheBudget) {
  faulty_->failures = {absl::UnavailableError("503"), absl::DeadlineExceededError("stall")};
  const uint64_t retries_before = CounterValue(Counter::kRetries);
  std::string out;
  ASSERT_TRUE(store_->GetRange("k", 0, 5, &out, Soon()).ok());
  EXPECT_EQ(out, "value");
  EXPECT_EQ(faulty_->calls, 3);
  EXPECT_EQ(CounterValue(Counter::kRetries) - retries_before, 2u);  // shown by hfshim-stat

  faulty_->calls = 0;
  faulty_->failures.assign(10, absl::UnavailableError("503"));
  absl::Status s = store_->Put("k2", "v", Soon());
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_NE(s.message().find("gave up after 4 attempts"), std::string::npos) << s;
  EXPECT_EQ(faulty_->calls, 4);
}

TEST_F(RetryingStoreTest, StreamedReadCutShortResumesWhereTheSinkSays) {
  ASSERT_TRUE(local_->Put("big", "0123456789abcdefghij", Soon()).ok());
  faulty_->cut_after = 7;
  std::string out(15, '\0');
  BufferSink sink(absl::MakeSpan(out));
  ASSERT_TRUE(store_->GetRangeTo("big", 3, 15, &sink, Soon()).ok());
  EXPECT_EQ(out, "3456789abcdefgh");
  EXPECT_EQ(faulty_->offsets, (std::vector<uint64_t>{3, 10})) << "the retry asks for the rest";
}

TEST_F(RetryingStoreTest, NeverRetriesAnswersAboutTheRequest) {
  for (const absl::Status& st :
       {absl::NotFoundError("404"), absl::PermissionDeniedError("403"),
        absl::OutOfRangeError("416"), absl::AlreadyExistsError("412"),
        absl::FailedPreconditionError("no bucket"), absl::InvalidArgumentError("bad key")}) {
    faulty_->calls = 0;
    faulty_->failures = {st};
    EXPECT_EQ(store_->Head("k", Soon()).status().code(), st.code());
    EXPECT_EQ(faulty_->calls, 1) << st;
  }
}

TEST_F(RetryingStoreTest, StopsAtTheDeadline) {
  faulty_->failures.assign(10, absl::UnavailableError("503"));
  RetryPolicy slow(10, absl::Seconds(2), absl::Seconds(2));
  int attempts = 0;
  const absl::Time start = absl::Now();
  absl::Status s = slow.Run(
      start + absl::Milliseconds(300), [&] { return absl::UnavailableError("503"); }, &attempts);
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_LE(attempts, 10);
}

TEST_F(RetryingStoreTest, PutIfAbsentWithALostAnswerIsStillOurs) {
  faulty_->create_then_fail = true;
  EXPECT_TRUE(store_->PutIfAbsent("heads/1", "ours", Soon()).ok());
  faulty_->failures = {absl::UnavailableError("reset")};  // then theirs is found: a conflict
  ASSERT_TRUE(local_->Put("heads/2", "theirs", Soon()).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store_->PutIfAbsent("heads/2", "ours!!", Soon())));
  EXPECT_TRUE(absl::IsAlreadyExists(store_->PutIfAbsent("heads/1", "ours", Soon())));
}

}  // namespace
}  // namespace hfshim
