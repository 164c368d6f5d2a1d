#include "tests/vfs/vfs_fixture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/base/hash.h"
#include "core/base/posix_error.h"
#include "core/env/env.h"
#include "core/env/file_util.h"

namespace hfshim {

absl::StatusOr<std::string> FakeCache::Materialize(const Entry& entry, const IndexReader&,
                                                   absl::Time, bool* fetched) {
  if (fetched != nullptr) *fetched = true;
  if (fail_with_eio) return PosixError(EIO, "store unreachable (test)");
  auto it = content_.find(entry.content_hash.Hex());
  if (it == content_.end()) return absl::NotFoundError("object missing (test)");
  std::string path = PathFor(entry.content_hash);
  // Atomically, like the real cache: another thread may be reading the file already.
  const std::string tmp = TempPathFor(path);
  std::ofstream(tmp, std::ios::binary) << it->second;
  if (rename(tmp.c_str(), path.c_str()) != 0) return PosixError(errno, "rename (test)");
  ++materialized;
  return path;
}

bool FakeCache::Contains(const Hash128& hash) const {
  return access(PathFor(hash).c_str(), F_OK) == 0;
}

void VfsTest::SetUp() {
  char tmpl[] = "/tmp/hfshim-vfs-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  tmp_ = tmpl;
  prefix_path_ = tmp_ + "/hub";
  std::filesystem::create_directories(prefix_path_ + "/.locks/models--org--m");
  std::filesystem::create_directories(prefix_path_ + "/models--real--r/snapshots");
  std::ofstream(prefix_path_ + "/version.txt") << "1";
  std::ofstream(tmp_ + "/outside.txt") << "outside";
  std::filesystem::create_directories(tmp_ + "/cache");
  ASSERT_TRUE(prefix_.InitWith(prefix_path_));
  cache_ = std::make_unique<FakeCache>(tmp_ + "/cache");
  source_.file = {BuildIndex(StandardTree(), 1), 1};
  Vfs::Parts parts;
  parts.prefix = &prefix_;
  parts.placeholder_root = tmp_ + "/run/dirs";
  parts.env = Env::Default();
  parts.source = &source_;
  parts.cache = cache_.get();
  parts.refresh_seconds = 0;
  parts.statfs_path = tmp_ + "/cache";
  absl::StatusOr<std::unique_ptr<Vfs>> vfs = Vfs::Create(parts);
  ASSERT_TRUE(vfs.ok()) << vfs.status();
  vfs_ = std::move(*vfs);
}

void VfsTest::TearDown() {
  std::error_code ec;
  std::filesystem::remove_all(tmp_, ec);
}

std::vector<TreeNode> VfsTest::StandardTree() {
  config_json_ = "{\"model_type\": \"bert\"}\n";
  blob_hash_ = "0123456789abcdef0123456789abcdef01234567";
  std::vector<TreeNode> t = {
      {"models--org--m/blobs/" + blob_hash_, EntryType::kFile, config_json_, 0644},
      {"models--org--m/blobs/big", EntryType::kFile, std::string(100000, 'x'), 0444},
      {"models--org--m/refs/main", EntryType::kFile, "rev1", 0644},
      {"models--org--m/snapshots/rev1/config.json", EntryType::kSymlink,
       "../../blobs/" + blob_hash_},
      {"models--org--m/snapshots/rev1/sub/model.bin", EntryType::kSymlink, "../../../blobs/big"},
      {"models--org--m/snapshots/rev1/loop", EntryType::kSymlink, "loop"},
      {"models--org--m/snapshots/rev1/escape", EntryType::kSymlink, "../../../../outside.txt"},
      {"models--org--m/.no_exist/rev1/missing.txt", EntryType::kFile, "", 0644},
      {"datasets--org--d/empty", EntryType::kDirectory, "", 0755},
      {"datasets--org--d/run.sh", EntryType::kFile, "#!/bin/sh\n", 0755},
  };
  for (int i = 0; i < 600; ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "datasets--org--d/data/f%04d.txt", i);
    t.push_back({name, EntryType::kFile, absl::StrCat("row ", i, "\n"), 0644});
  }
  return t;
}

std::string VfsTest::BuildIndex(const std::vector<TreeNode>& nodes, uint64_t sequence) {
  std::string path = absl::StrCat(tmp_, "/index-", ++index_counter_, ".mdb");
  auto writer = IndexWriter::Create(path);
  EXPECT_TRUE(writer.ok()) << writer.status();
  std::set<std::string> dirs;
  for (const TreeNode& n : nodes) {
    std::string p = n.path;
    for (size_t slash = p.find('/'); slash != std::string::npos; slash = p.find('/', slash + 1)) {
      dirs.insert(p.substr(0, slash));
    }
    if (n.type == EntryType::kDirectory) dirs.insert(p);
  }
  for (const std::string& d : dirs) {
    Entry e;
    e.type = EntryType::kDirectory;
    e.mode = S_IFDIR | 0755;
    e.nlink = 0;  // computed by the writer
    e.ino = InodeForPath(d);
    e.mtime_ns = 1700000000000000000;
    EXPECT_TRUE((*writer)->Add(d, e).ok());
  }
  for (const TreeNode& n : nodes) {
    if (n.type == EntryType::kDirectory) continue;
    Entry e;
    e.type = n.type;
    e.ino = InodeForPath(n.path);
    e.mtime_ns = n.mtime_ns;
    if (n.type == EntryType::kSymlink) {
      e.mode = S_IFLNK | 0777;
      e.symlink_target = n.content;
      e.size = n.content.size();
    } else {
      e.mode = S_IFREG | n.perm;
      e.size = n.content.size();
      e.content_hash = ContentHash(n.content);
      e.location = {absl::StrCat("data/", e.content_hash.Hex()), 0, e.size};
      e.block_size = 4 << 20;
      if (!n.content.empty()) e.block_checksums = {BlockChecksum(n.content)};
      cache_->Add(n.content);
    }
    absl::Status added = (*writer)->Add(n.path, e);
    EXPECT_TRUE(added.ok()) << added;
  }
  IndexMeta meta;
  meta.sequence = sequence;
  absl::Status done = (*writer)->Finish(meta);
  EXPECT_TRUE(done.ok()) << done;
  return path;
}

}  // namespace hfshim
