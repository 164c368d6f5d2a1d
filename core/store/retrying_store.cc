#include "core/store/retrying_store.h"

#include <algorithm>

#include "core/base/status_macros.h"

namespace hfshim {
namespace {

class RetryingStore final : public ObjectStore {
 public:
  RetryingStore(std::unique_ptr<ObjectStore> target, int retries)
      : target_(std::move(target)), policy_(retries) {}

  absl::Status GetRange(absl::string_view key, uint64_t offset, uint64_t length, std::string* out,
                        absl::Time deadline) override {
    return policy_.Run(deadline,
                       [&] { return target_->GetRange(key, offset, length, out, deadline); });
  }

  // Each retry resumes where the sink says its kept bytes end.
  absl::Status GetRangeTo(absl::string_view key, uint64_t offset, uint64_t length, RangeSink* sink,
                          absl::Time deadline) override {
    return policy_.Run(deadline, [&] {
      const uint64_t kept = std::min(sink->Rewind(), length);
      return target_->GetRangeTo(key, offset + kept, length - kept, sink, deadline);
    });
  }

  absl::StatusOr<ObjectInfo> Head(absl::string_view key, absl::Time deadline) override {
    absl::StatusOr<ObjectInfo> result;
    absl::Status s = policy_.Run(deadline, [&] {
      result = target_->Head(key, deadline);
      return result.status();
    });
    if (!s.ok()) return s;
    return result;
  }

  absl::Status Put(absl::string_view key, absl::string_view data, absl::Time deadline) override {
    return policy_.Run(deadline, [&] { return target_->Put(key, data, deadline); });
  }

  absl::Status PutFile(absl::string_view key, const std::string& local_path,
                       absl::Time deadline) override {
    return policy_.Run(deadline, [&] { return target_->PutFile(key, local_path, deadline); });
  }

  absl::Status PutIfAbsent(absl::string_view key, absl::string_view data,
                           absl::Time deadline) override {
    int attempts = 0;
    absl::Status s = policy_.Run(
        deadline, [&] { return target_->PutIfAbsent(key, data, deadline); }, &attempts);
    if (absl::IsAlreadyExists(s) && attempts > 1) {
      // An earlier attempt may have created it before its answer was lost: is it ours?
      std::string stored;
      absl::Status got = policy_.Run(
          deadline, [&] { return target_->GetRange(key, 0, data.size(), &stored, deadline); });
      if (got.ok() && stored == data) {
        auto info = target_->Head(key, deadline);
        if (info.ok() && info->size == data.size()) return absl::OkStatus();
      }
    }
    return s;
  }

  absl::Status EnsureCreated(absl::Time deadline) override {
    return target_->EnsureCreated(deadline);
  }

  absl::StatusOr<std::vector<ObjectInfo>> List(absl::string_view prefix,
                                               absl::Time deadline) override {
    absl::StatusOr<std::vector<ObjectInfo>> result;
    absl::Status s = policy_.Run(deadline, [&] {
      result = target_->List(prefix, deadline);
      return result.status();
    });
    if (!s.ok()) return s;
    return result;
  }

  std::string Describe() const override { return target_->Describe(); }
  std::string Identity() const override { return target_->Identity(); }

 private:
  const std::unique_ptr<ObjectStore> target_;
  const RetryPolicy policy_;
};

}  // namespace

std::unique_ptr<ObjectStore> NewRetryingStore(std::unique_ptr<ObjectStore> target, int retries) {
  return std::make_unique<RetryingStore>(std::move(target), retries);
}

}  // namespace hfshim
