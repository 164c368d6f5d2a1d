#include "core/store/fallback_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/log.h"

namespace hfshim {
namespace {

class FallbackStore final : public ObjectStore {
 public:
  explicit FallbackStore(std::vector<std::unique_ptr<ObjectStore>> stores)
      : stores_(std::move(stores)) {}

  absl::Status GetRange(absl::string_view key, uint64_t offset, uint64_t length, std::string* out,
                        absl::Time deadline) override {
    return FirstOk([&](ObjectStore* s) { return s->GetRange(key, offset, length, out, deadline); },
                   key);
  }

  absl::Status GetRangeTo(absl::string_view key, uint64_t offset, uint64_t length, RangeSink* sink,
                          absl::Time deadline) override {
    return FirstOk(
        [&](ObjectStore* s) {
          const uint64_t kept = std::min(sink->Rewind(), length);
          return s->GetRangeTo(key, offset + kept, length - kept, sink, deadline);
        },
        key);
  }

  absl::StatusOr<ObjectInfo> Head(absl::string_view key, absl::Time deadline) override {
    absl::StatusOr<ObjectInfo> result;
    absl::Status s = FirstOk(
        [&](ObjectStore* st) {
          result = st->Head(key, deadline);
          return result.status();
        },
        key);
    if (!s.ok()) return s;
    return result;
  }

  absl::Status Put(absl::string_view key, absl::string_view data, absl::Time deadline) override {
    return primary()->Put(key, data, deadline);
  }
  absl::Status PutFile(absl::string_view key, const std::string& local_path,
                       absl::Time deadline) override {
    return primary()->PutFile(key, local_path, deadline);
  }
  absl::Status PutIfAbsent(absl::string_view key, absl::string_view data,
                           absl::Time deadline) override {
    return primary()->PutIfAbsent(key, data, deadline);
  }
  absl::Status EnsureCreated(absl::Time deadline) override {
    return primary()->EnsureCreated(deadline);
  }

  absl::StatusOr<std::vector<ObjectInfo>> List(absl::string_view prefix,
                                               absl::Time deadline) override {
    // The primary is authoritative for listings (heads decide what is current); the mirrors
    // answer only when it cannot.
    std::vector<std::string> errors;
    std::vector<ObjectStore*> order = {primary()};
    for (size_t i = 0; i + 1 < stores_.size(); ++i) order.push_back(stores_[i].get());
    for (ObjectStore* store : order) {
      auto listed = store->List(prefix, deadline);
      if (listed.ok()) return listed;
      errors.push_back(std::string(listed.status().message()));
    }
    return absl::UnavailableError(absl::StrCat("no store of ", Describe(), " could list '", prefix,
                                               "': ", absl::StrJoin(errors, "; ")));
  }

  std::string Describe() const override { return JoinOfStores(&ObjectStore::Describe); }
  std::string Identity() const override { return JoinOfStores(&ObjectStore::Identity); }

 private:
  // `name` of every store, comma-separated, in the order of the URL list.
  std::string JoinOfStores(std::string (ObjectStore::*name)() const) const {
    std::vector<std::string> names;
    for (const auto& s : stores_) names.push_back((s.get()->*name)());
    return absl::StrJoin(names, ",");
  }

  ObjectStore* primary() const { return stores_.back().get(); }

  // Tries `op` on each store in order. All misses -> NotFound; otherwise the failures, joined.
  template <typename Op>
  absl::Status FirstOk(const Op& op, absl::string_view key) {
    std::vector<std::string> errors;
    bool all_missing = true;
    for (size_t i = 0; i < stores_.size(); ++i) {
      absl::Status s = op(stores_[i].get());
      if (s.ok()) return s;
      // Answers that are about the request, not about where the object is, stop here.
      if (absl::IsOutOfRange(s) || absl::IsInvalidArgument(s)) return s;
      if (!absl::IsNotFound(s)) {
        all_missing = false;
        if (i + 1 < stores_.size()) {
          Log(LogLevel::kDebug, absl::StrCat("falling back from ", stores_[i]->Describe(), " for ",
                                             key, ": ", s.message()));
        }
      }
      errors.push_back(std::string(s.message()));
    }
    const std::string message = absl::StrJoin(errors, "; ");
    if (all_missing) return absl::NotFoundError(message);
    return absl::UnavailableError(message);
  }

  const std::vector<std::unique_ptr<ObjectStore>> stores_;
};

}  // namespace

std::unique_ptr<ObjectStore> NewFallbackStore(std::vector<std::unique_ptr<ObjectStore>> stores) {
  return std::make_unique<FallbackStore>(std::move(stores));
}

}  // namespace hfshim
