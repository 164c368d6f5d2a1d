#include "core/index/index_writer.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/hash.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/index/lmdb_util.h"
#include "core/index/path_table.h"

namespace hfshim {
namespace {

constexpr char kStagingDb[] = "staging";

constexpr size_t kBuildMapSize = size_t{1} << 40;  // address space only; the file grows as used

std::string ParentOf(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

class LmdbIndexWriter final : public IndexWriter {
 public:
  explicit LmdbIndexWriter(std::string path) : path_(std::move(path)) {
    static std::atomic<int> counter{0};
    build_path_ = absl::StrCat(path_, ".build.", getpid(), ".", counter++);
  }

  ~LmdbIndexWriter() override {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    if (env_ != nullptr) mdb_env_close(env_);
    unlink(build_path_.c_str());
  }

  absl::Status Init() {
    int rc = mdb_env_create(&env_);
    if (rc == 0) rc = mdb_env_set_mapsize(env_, kBuildMapSize);
    if (rc == 0) rc = mdb_env_set_maxdbs(env_, 8);
    if (rc == 0) {
      rc = mdb_env_open(env_, build_path_.c_str(),
                        MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP,
                        0644);
    }
    if (rc == 0) rc = mdb_txn_begin(env_, nullptr, 0, &txn_);
    if (rc == 0) rc = mdb_dbi_open(txn_, kStagingDb, MDB_CREATE, &staging_);
    if (rc == 0) rc = mdb_dbi_open(txn_, kEntriesDb, MDB_CREATE, &entries_);
    if (rc == 0) rc = mdb_dbi_open(txn_, kMetaDb, MDB_CREATE, &meta_);
    if (rc == 0) rc = mdb_dbi_open(txn_, kPacksDb, MDB_CREATE, &packs_);
    if (rc == 0) rc = mdb_dbi_open(txn_, kPathTableDb, MDB_CREATE, &pathtable_);
    if (rc != 0) return LmdbError(rc, "create index", build_path_);
    return absl::OkStatus();
  }

  absl::Status Add(absl::string_view rel_path, const Entry& entry) override {
    if (rel_path.empty() || rel_path.front() == '/' || rel_path.back() == '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("index path '", rel_path, "' is not a normalised relative path"));
    }
    const std::string key = EntryKey(rel_path);
    const std::string value = EncodeEntry(entry);
    MDB_val k = Val(key), v = Val(value);
    int rc = mdb_put(txn_, staging_, &k, &v, 0);
    if (rc != 0) return LmdbError(rc, "write index entry " + std::string(rel_path), build_path_);
    const std::string path(rel_path);
    paths_.insert(path);
    if (entry.type == EntryType::kDirectory) {
      dirs_[path] = entry.nlink;
      ++subdirs_[ParentOf(path)];
    }
    if (entry.type == EntryType::kFile && entry.size > 0 &&
        absl::StartsWith(entry.location.object_key, "packs/")) {
      const std::string pkey = PackMemberKey(entry.location.object_key, entry.location.offset);
      std::string pval(32, '\0');
      uint64_t fields[4] = {entry.location.length, entry.content_hash.hi, entry.content_hash.lo,
                            entry.block_checksums.empty() ? 0 : entry.block_checksums[0]};
      std::memcpy(&pval[0], fields, sizeof(fields));
      MDB_val pk = Val(pkey), pv = Val(pval);
      rc = mdb_put(txn_, packs_, &pk, &pv, 0);
      if (rc != 0) return LmdbError(rc, "write pack member", build_path_);
    }
    return absl::OkStatus();
  }

  absl::Status Finish(const IndexMeta& meta_in) override {
    // Every entry's parent must be a directory of the tree (or the root).
    for (const std::string& p : paths_) {
      std::string parent = ParentOf(p);
      if (!parent.empty() && !dirs_.contains(parent)) {
        return absl::FailedPreconditionError(
            absl::StrCat("index entry '", p, "' has no parent directory entry '", parent, "'"));
      }
    }
    // Directories with nlink 0 get 2 + their subdirectories, as on a local file system.
    for (const auto& [dir, nlink] : dirs_) {
      if (nlink != 0) continue;
      const std::string key = EntryKey(dir);
      MDB_val k = Val(key), v;
      int rc = mdb_get(txn_, staging_, &k, &v);
      if (rc != 0) return LmdbError(rc, "reread directory " + dir, build_path_);
      ASSIGN_OR_RETURN(Entry e, DecodeEntry(View(v)));
      auto it = subdirs_.find(dir);
      e.nlink = 2 + (it == subdirs_.end() ? 0 : it->second);
      const std::string value = EncodeEntry(e);
      v = Val(value);
      rc = mdb_put(txn_, staging_, &k, &v, 0);
      if (rc != 0) return LmdbError(rc, "rewrite directory " + dir, build_path_);
    }
    RETURN_IF_ERROR(WriteEntriesAndPathTable());
    IndexMeta meta = meta_in;
    meta.format_version = kIndexFormatVersion;
    meta.entry_count = paths_.size();
    const std::string encoded = EncodeMeta(meta);
    MDB_val mk = Val(kMetaKey), mv = Val(encoded);
    int rc = mdb_put(txn_, meta_, &mk, &mv, 0);
    if (rc == 0) rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    if (rc != 0) return LmdbError(rc, "commit index", build_path_);

    // Write a compact copy next to the destination, make it durable, then rename it into place.
    const std::string tmp = absl::StrCat(path_, ".tmp.", getpid());
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus(errno, "create " + tmp);
    rc = mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT);
    if (rc == 0 && fsync(fd) != 0) rc = errno;
    close(fd);
    if (rc != 0) {
      unlink(tmp.c_str());
      return rc > 0 && rc < 200 ? ErrnoStatus(rc, "write index " + tmp)
                                : LmdbError(rc, "write index", tmp);
    }
    if (rename(tmp.c_str(), path_.c_str()) != 0) {
      int err = errno;
      unlink(tmp.c_str());
      return ErrnoStatus(err, "rename index into " + path_);
    }
    return absl::OkStatus();
  }

 private:
  // Turns the staged entries into the final layout (FORMAT.md, version 2): a path table record
  // per entry, in key order (so a directory's children are adjacent records), and the entries
  // database mapping each key to its record's locator, appended in key order so its pages are
  // full. The staging database is dropped: the compacting copy leaves its pages out.
  absl::Status WriteEntriesAndPathTable() {
    PathTableBuilder table(txn_, pathtable_, build_path_);
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn_, staging_, &cur);
    if (rc != 0) return LmdbError(rc, "read back index", build_path_);
    MDB_val k, v;
    absl::Status status;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      absl::StatusOr<uint64_t> locator = table.Add(PathOfEntryKey(View(k)), View(v));
      if (!locator.ok()) {
        status = locator.status();
        break;
      }
      MDB_val lv{sizeof(*locator), &*locator};
      int put = mdb_put(txn_, entries_, &k, &lv, MDB_APPEND);
      if (put != 0) {
        status = LmdbError(put, "write index entries", build_path_);
        break;
      }
    }
    mdb_cursor_close(cur);
    RETURN_IF_ERROR(status);
    if (rc != MDB_NOTFOUND) return LmdbError(rc, "read back index", build_path_);
    RETURN_IF_ERROR(table.Finish());
    rc = mdb_drop(txn_, staging_, /*del=*/1);
    if (rc != 0) return LmdbError(rc, "drop index staging", build_path_);
    return absl::OkStatus();
  }

  std::string path_;
  std::string build_path_;
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
  MDB_dbi staging_ = 0;  // path key -> encoded entry, while adding; not in the output
  MDB_dbi entries_ = 0, meta_ = 0, packs_ = 0, pathtable_ = 0;
  absl::flat_hash_set<std::string> paths_;
  absl::flat_hash_map<std::string, uint32_t> dirs_;     // directory -> nlink as added
  absl::flat_hash_map<std::string, uint32_t> subdirs_;  // directory -> subdirectory count
};

}  // namespace

absl::StatusOr<std::unique_ptr<IndexWriter>> IndexWriter::Create(const std::string& path) {
  auto writer = std::make_unique<LmdbIndexWriter>(path);
  RETURN_IF_ERROR(writer->Init());
  return std::unique_ptr<IndexWriter>(std::move(writer));
}

uint64_t InodeForPath(absl::string_view rel_path) {
  uint64_t ino = PathHash(rel_path) & 0x7fffffffffffffffULL;
  return ino == 0 ? 1 : ino;
}

}  // namespace hfshim
