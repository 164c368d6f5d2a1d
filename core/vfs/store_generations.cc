#include "core/vfs/store_generations.h"

#include "absl/strings/str_cat.h"
#include "core/index/generation.h"

namespace hfshim {
namespace {

class StoreGenerations final : public GenerationSource {
 public:
  StoreGenerations(ObjectStore* store, const Config& config, std::string index_dir)
      : store_(store), config_(config), index_dir_(std::move(index_dir)) {}

  absl::StatusOr<GenerationFile> Latest() override {
    absl::StatusOr<std::optional<HeadRecord>> head =
        FindLatestHead(store_, RequestDeadline(config_));
    if (!head.ok()) {
      return absl::Status(
          head.status().code(),
          absl::StrCat("reading the head of ", store_->Describe(), ": ", head.status().message()));
    }
    if (!head->has_value()) {
      return absl::NotFoundError(absl::StrCat("nothing was pushed to ", store_->Describe()));
    }
    absl::StatusOr<std::string> path =
        FetchGeneration(store_, **head, index_dir_, Env::Default(), RequestDeadline(config_));
    if (!path.ok()) {
      // The head names a generation the store does not have: a damaged store, not "no index".
      absl::StatusCode code =
          absl::IsNotFound(path.status()) ? absl::StatusCode::kDataLoss : path.status().code();
      return absl::Status(
          code,
          absl::StrCat(
              "fetching index generation ", (*head)->sequence, " from ", store_->Describe(), ": ",
              path.status().message(),
              code == absl::StatusCode::kDataLoss ? "; the store is damaged: push again" : ""));
    }
    return GenerationFile{std::move(*path), (*head)->sequence};
  }

 private:
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
