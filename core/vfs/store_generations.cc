#include "core/vfs/store_generations.h"

#include <atomic>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/base/log.h"
#include "core/index/generation.h"

namespace hfshim {
namespace {

class StoreGenerations final : public GenerationSource {
 public:
  StoreGenerations(ObjectStore* store, const Config& config, std::string index_dir)
      : store_(store), config_(config), index_dir_(std::move(index_dir)) {}

  absl::StatusOr<GenerationFile> Latest() override {
    if (std::optional<GenerationFile> recent = CheckedRecently()) return *std::move(recent);
    return LatestNow();
  }

  absl::StatusOr<GenerationFile> LatestNow() override {
    absl::StatusOr<HeadCheck> check =
        CheckNewestHead(store_, index_dir_, Env::Default(), RequestDeadline(config_));
    if (!check.ok()) {
      absl::Status s(check.status().code(), absl::StrCat("reading the head of ", store_->Describe(),
                                                         ": ", check.status().message()));
      return LastKnown(s);
    }
    const std::optional<HeadRecord>& head = check->head;
    if (!head.has_value()) {
      // Heads are never deleted: a store without any that this node read before has vanished
      // (an unmounted file system, a wrong bucket), which is no reason to stop serving.
      return LastKnown(
          absl::NotFoundError(absl::StrCat("nothing was pushed to ", store_->Describe())));
    }
    absl::StatusOr<std::string> path =
        FetchGeneration(store_, *head, index_dir_, Env::Default(), RequestDeadline(config_));
    if (!path.ok()) {
      // The head names a generation the store does not have: a damaged store, not "no index".
      absl::StatusCode code =
          absl::IsNotFound(path.status()) ? absl::StatusCode::kDataLoss : path.status().code();
      return LastKnown(absl::Status(
          code,
          absl::StrCat(
              "fetching index generation ", head->sequence, " from ", store_->Describe(), ": ",
              path.status().message(),
              code == absl::StatusCode::kDataLoss ? "; the store is damaged: push again" : "")));
    }
    NoteHeadChecked(index_dir_, *check, Env::Default());
    return GenerationFile{std::move(*path), head->sequence};
  }

 private:
  // The generation some process of the node found current in the store less than
  // HFSHIM_REFRESH seconds ago (the node's record, LastFetchedGeneration): a process started
  // then answers from it without asking the store, and asks once the record is that old. A
  // generation pushed at time T is still seen by every new open on the node by T + refresh.
  // Never with refresh 0 (check on every open).
  std::optional<GenerationFile> CheckedRecently() const {
    const absl::Duration refresh = absl::Seconds(config_.refresh_seconds);
    if (refresh <= absl::ZeroDuration()) return std::nullopt;
    absl::StatusOr<LocalGeneration> last =
        LastFetchedGeneration(index_dir_, *store_, Env::Default());
    if (!last.ok() || last->checked_ago < absl::ZeroDuration() || last->checked_ago >= refresh) {
      return std::nullopt;
    }
    return GenerationFile{last->path, last->sequence, last->checked_ago};
  }

  // When the store cannot give its current generation (unreachable, vanished, refusing us): the
  // last generation this node fetched, if it is still in the index dir; else `error`. Content
  // served from it is verified like any other.
  absl::StatusOr<GenerationFile> LastKnown(const absl::Status& error) {
    absl::StatusOr<LocalGeneration> last =
        LastFetchedGeneration(index_dir_, *store_, Env::Default());
    if (!last.ok()) return error;
    static std::atomic<bool> said{false};
    LogOnce(&said, LogLevel::kWarn,
            absl::StrCat(error.message(), "; serving the last generation this node fetched (",
                         last->sequence, ") and what is cached until the store is back"));
    return GenerationFile{last->path, last->sequence};
  }

  ObjectStore* const store_;
  const Config config_;
  const std::string index_dir_;
};

}  // namespace

std::unique_ptr<GenerationSource> MakeStoreGenerationSource(ObjectStore* store,
                                                            const Config& config,
                                                            std::string index_dir) {
  return std::make_unique<StoreGenerations>(store, config, std::move(index_dir));
}

}  // namespace hfshim
