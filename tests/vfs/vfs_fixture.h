// A small virtual hub cache for the vfs tests: a hand-built index generation (IndexWriter), a
// fake ContentCache that writes content from memory into a temp dir, a generation source the
// test can switch, and a real prefix directory with a few real entries beside the repos.
#ifndef HFSHIM_TESTS_VFS_VFS_FIXTURE_H_
#define HFSHIM_TESTS_VFS_VFS_FIXTURE_H_

#include <fcntl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/cache/content_cache.h"
#include "core/index/entry.h"
#include "core/index/index_writer.h"
#include "core/vfs/generations.h"
#include "core/vfs/prefix.h"
#include "core/vfs/vfs.h"
#include "gtest/gtest.h"

namespace hfshim {

// Content kept in memory, written to the cache dir on Materialize.
class FakeCache final : public ContentCache {
 public:
  explicit FakeCache(std::string dir) : dir_(std::move(dir)) {}
  void Add(const std::string& data) { content_[ContentHash(data).Hex()] = data; }
  absl::StatusOr<std::string> Materialize(const Entry& entry, const IndexReader&, absl::Time,
                                          bool* fetched) override;
  absl::StatusOr<std::shared_ptr<LazyContent>> OpenLazy(const Entry&, absl::Time) override {
    return absl::UnimplementedError("the vfs fixture has no large files");
  }
  absl::StatusOr<std::shared_ptr<LazyContent>> OpenLazyPath(const std::string&) override {
    return absl::NotFoundError("the vfs fixture has no large files");
  }
  std::string PathFor(const Hash128& hash) const override { return dir_ + "/" + hash.Hex(); }
  bool Contains(const Hash128& hash) const override;
  void Touch(int, const struct stat&) override {}
  absl::StatusOr<int> OpenCached(const Hash128& hash, int flags) override {
    const int fd = open(PathFor(hash).c_str(), O_RDONLY | flags);  // as ContentCache says
    if (fd < 0) return absl::NotFoundError("not cached (test)");
    return fd;
  }
  absl::Status Verify(const Entry&) override { return absl::OkStatus(); }
  void Drain() override {}
  void ResetAfterFork() override {}
  Stats stats() const override { return {}; }
  int materialized = 0;
  bool fail_with_eio = false;

 private:
  std::string dir_;
  std::map<std::string, std::string> content_;
};

// A generation source returning whatever file the test set last.
class FixedSource final : public GenerationSource {
 public:
  absl::StatusOr<GenerationFile> Latest() override {
    if (file.path.empty()) return absl::NotFoundError("no heads");
    return file;
  }
  GenerationFile file;
};

// One file or symlink or dir of a test tree.
struct TreeNode {
  std::string path;
  EntryType type = EntryType::kFile;
  std::string content;  // files: bytes; symlinks: target
  uint32_t perm = 0;
  int64_t mtime_ns = 1700000000123456789;
};

class VfsTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Writes an index generation of `nodes` (ancestor dirs added automatically) to a new file.
  std::string BuildIndex(const std::vector<TreeNode>& nodes, uint64_t sequence);
  // The standard tree: models--org--m with blobs/refs/snapshots, datasets--org--d with many
  // files, an empty dir, a symlink loop, a deep dir.
  std::vector<TreeNode> StandardTree();
  std::string P(const std::string& rel) const {
    return prefix_path_ + (rel.empty() ? "" : "/" + rel);
  }

  std::string tmp_;
  std::string prefix_path_;
  Prefix prefix_;
  std::unique_ptr<FakeCache> cache_;
  FixedSource source_;
  std::unique_ptr<Vfs> vfs_;
  std::string blob_hash_;  // hex content hash of config.json's blob
  std::string config_json_;
  int index_counter_ = 0;
};

}  // namespace hfshim

#endif  // HFSHIM_TESTS_VFS_VFS_FIXTURE_H_
