#include "core/index/index_reader.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/index/index_writer.h"
#include "core/index/lmdb_util.h"
#include "core/index/path_table.h"
#include "core/index/path_walk.h"

namespace hfshim {
namespace {

class LmdbIndexReader final : public IndexReader {
 public:
  explicit LmdbIndexReader(std::string path) : path_(std::move(path)) {}

  ~LmdbIndexReader() override {
    for (MDB_txn* t : idle_) mdb_txn_abort(t);
    if (env_ != nullptr) mdb_env_close(env_);
  }

  absl::Status Init() {
    struct stat st;
    if (::stat(path_.c_str(), &st) != 0) return ErrnoStatus(errno, "open index " + path_);
    int rc = mdb_env_create(&env_);
    if (rc == 0) rc = mdb_env_set_maxdbs(env_, 8);
    // Map what the file holds, not the map size it was built with (the writer's, 1 TiB of
    // address space): LMDB raises a smaller map size to the committed pages, and a process
    // under `ulimit -v` can then still read the index. An empty file (map size 0 means "as
    // written") is rejected below as truncated.
    if (rc == 0 && st.st_size > 0) rc = mdb_env_set_mapsize(env_, static_cast<size_t>(st.st_size));
    if (rc == 0) {
      rc = mdb_env_open(env_, path_.c_str(),
                        MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR | MDB_NOTLS | MDB_NORDAHEAD, 0);
    }
    // A truncated file would fault (SIGBUS) on first access to a page past its end: check that
    // every page the meta page claims is really in the file before touching the map.
    if (rc == 0) {
      MDB_envinfo info;
      MDB_stat stat;
      if (mdb_env_info(env_, &info) != 0 || mdb_env_stat(env_, &stat) != 0 ||
          (static_cast<uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize >
              static_cast<uint64_t>(st.st_size)) {
        rc = MDB_CORRUPTED;
      }
    }
    MDB_txn* txn = nullptr;
    if (rc == 0) rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, kEntriesDb, 0, &entries_);
    if (rc == 0) rc = mdb_dbi_open(txn, kMetaDb, 0, &meta_db_);
    if (rc == 0) rc = mdb_dbi_open(txn, kPacksDb, 0, &packs_);
    MDB_val k = Val(kMetaKey), v;
    if (rc == 0) rc = mdb_get(txn, meta_db_, &k, &v);
    if (rc == 0 && !DecodeMeta(View(v), &meta_)) rc = MDB_CORRUPTED;
    if (rc == 0 && meta_.format_version >= 2 && meta_.format_version <= kIndexFormatVersion) {
      absl::StatusOr<PathTable> table = PathTable::Load(txn, path_);
      if (!table.ok()) {
        mdb_txn_abort(txn);
        return table.status();
      }
      table_ = *std::move(table);
    }
    if (rc == 0) {
      rc = mdb_txn_commit(txn);  // keeps the dbi handles
    } else if (txn != nullptr) {
      mdb_txn_abort(txn);
    }
    if (rc != 0) return OpenError(rc);
    if (meta_.format_version < kOldestIndexFormatVersion ||
        meta_.format_version > kIndexFormatVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "index ", path_, " has format version ", meta_.format_version, ", this build reads ",
          kOldestIndexFormatVersion, " to ", kIndexFormatVersion, "; upgrade hfshim"));
    }
    // The root is synthesised: a directory with 2 + one link per top-level directory.
    root_.type = EntryType::kDirectory;
    root_.mode = S_IFDIR | 0755;
    root_.ino = InodeForPath("");
    root_.mtime_ns = meta_.created_unix_ns;
    ASSIGN_OR_RETURN(std::vector<DirChild> top, List("", "", SIZE_MAX));
    root_.nlink = 2;
    for (const DirChild& c : top) root_.nlink += c.entry.type == EntryType::kDirectory;
    return absl::OkStatus();
  }

  // Why an existing file could not be opened as an index. A process short of memory, address
  // space or descriptors (ulimit -v / -n) is not a damaged file: FailedPrecondition, so the
  // caller neither refetches nor blames the store. Anything else means the file is damaged.
  absl::Status OpenError(int rc) const {
    if (rc == ENOMEM || rc == EMFILE || rc == ENFILE || rc == EAGAIN || rc == EACCES ||
        rc == EPERM) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot map index ", path_, " (", mdb_strerror(rc),
          "): this process is short of memory, address space or file descriptors; raise "
          "ulimit -v / ulimit -n for it"));
    }
    return absl::DataLossError(absl::StrCat("index ", path_, " is not a valid index (",
                                            mdb_strerror(rc),
                                            "); delete it so it is fetched again"));
  }

  const IndexMeta& meta() const override { return meta_; }

  absl::StatusOr<Entry> Lookup(absl::string_view rel_path) const override {
    if (rel_path.empty()) return root_;
    if (table_.has_value()) {
      // No transaction: the table points into the immutable map (PathTable's contract).
      ASSIGN_OR_RETURN(std::optional<absl::string_view> value, table_->Find(rel_path));
      if (!value.has_value()) return NotInIndex(rel_path);
      return DecodeEntry(*value);
    }
    // Version 1 generations have no path table: one walk of the entries B-tree.
    Txn txn(this);
    if (txn.get() == nullptr) return absl::InternalError("index read transaction failed");
    const std::string key = EntryKey(rel_path);
    MDB_val k = Val(key), v;
    int rc = mdb_get(txn.get(), entries_, &k, &v);
    if (rc == MDB_NOTFOUND) return NotInIndex(rel_path);
    if (rc != 0) return LmdbError(rc, "read index", path_);
    return DecodeEntry(View(v));  // version 1: the value is the entry
  }

  absl::StatusOr<Entry> LinkedFile(uint64_t link_record, std::string* path) const override {
    absl::string_view p, bytes;
    if (!table_.has_value() || link_record == 0) {
      return absl::DataLossError(absl::StrCat("index ", path_,
                                              ": a symlink names a record this format lacks; the "
                                              "index generation is damaged: delete it so it is "
                                              "fetched again"));
    }
    RETURN_IF_ERROR(table_->Record(link_record - 1, &p, &bytes));
    ASSIGN_OR_RETURN(Entry e, DecodeEntry(bytes));
    if (e.type != EntryType::kFile) {
      return absl::DataLossError(absl::StrCat("index ", path_, ": a symlink's record ", p,
                                              " is not a file; the index generation is damaged: "
                                              "delete it so it is fetched again"));
    }
    path->assign(p.data(), p.size());
    return e;
  }

  absl::StatusOr<Resolved> Resolve(absl::string_view rel_path, bool follow_last) const override {
    return ResolvePath(
        rel_path, follow_last,
        [this](absl::string_view p, bool) { return LookupDirectoryCached(p); }, this);
  }

  absl::StatusOr<std::vector<DirChild>> List(absl::string_view dir_path, absl::string_view after,
                                             size_t max) const override {
    if (!dir_path.empty()) {
      ASSIGN_OR_RETURN(Entry dir, Lookup(dir_path));
      if (dir.type != EntryType::kDirectory) {
        return PosixError(ENOTDIR, absl::StrCat(dir_path, " is not a directory"));
      }
    }
    std::string prefix = EntryKey(absl::StrCat(dir_path, "/"));  // "dir\0"
    if (dir_path.empty()) prefix = std::string(1, '\0');
    std::string start = absl::StrCat(prefix, after);
    std::vector<DirChild> out;
    Txn txn(this);
    MDB_cursor* cur = nullptr;
    if (txn.get() == nullptr || mdb_cursor_open(txn.get(), entries_, &cur) != 0) {
      return absl::InternalError("index cursor failed");
    }
    MDB_val k = Val(start), v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    absl::Status status;
    while (rc == 0 && out.size() < max) {
      absl::string_view key = View(k);
      if (!absl::StartsWith(key, prefix)) break;
      absl::string_view name = key.substr(prefix.size());
      if (after.empty() || name != after) {
        auto entry = EntryOfValue(v);
        if (!entry.ok()) {
          status = entry.status();
          break;
        }
        out.push_back(DirChild{std::string(name), *std::move(entry)});
      }
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (!status.ok()) return status;
    if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError(rc, "list index", path_);
    return out;
  }

  absl::Status ForEach(
      absl::FunctionRef<bool(absl::string_view, const Entry&)> visit) const override {
    absl::Status status;
    RETURN_IF_ERROR(ForEachRecord([&](absl::string_view path, const MDB_val& value) {
      absl::StatusOr<Entry> entry = EntryOfValue(value);
      if (!entry.ok()) status = entry.status();
      return entry.ok() && visit(path, *entry);
    }));
    return status;
  }

  absl::Status ForEachPath(absl::FunctionRef<bool(absl::string_view)> visit) const override {
    return ForEachRecord([&](absl::string_view path, const MDB_val&) { return visit(path); });
  }

  absl::StatusOr<std::vector<PackMember>> PackMembers(absl::string_view pack_key, uint64_t begin,
                                                      uint64_t end) const override {
    std::vector<PackMember> out;
    const std::string prefix = absl::StrCat(pack_key, std::string(1, '\0'));
    const std::string start = PackMemberKey(pack_key, begin);
    Txn txn(this);
    MDB_cursor* cur = nullptr;
    if (txn.get() == nullptr || mdb_cursor_open(txn.get(), packs_, &cur) != 0) {
      return absl::InternalError("index cursor failed");
    }
    MDB_val k = Val(start), v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
      absl::string_view key = View(k);
      if (!absl::StartsWith(key, prefix) || key.size() != prefix.size() + 8 || v.mv_size != 32) {
        break;
      }
      PackMember m;
      for (size_t i = 0; i < 8; ++i) {
        m.offset = (m.offset << 8) | static_cast<uint8_t>(key[prefix.size() + i]);
      }
      if (m.offset >= end) break;
      uint64_t fields[4];
      std::memcpy(fields, v.mv_data, sizeof(fields));
      m.length = fields[0];
      m.content_hash = Hash128{fields[1], fields[2]};
      m.checksum = fields[3];
      if (m.offset + m.length <= end) out.push_back(m);
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return out;
  }

 private:
  // The entry an entries-database value stands for: the encoded entry itself (version 1) or the
  // locator of its path table record (version 2).
  absl::StatusOr<Entry> EntryOfValue(const MDB_val& v) const {
    if (!table_.has_value()) return DecodeEntry(View(v));
    uint64_t locator;
    if (v.mv_size != sizeof(locator)) {
      return absl::DataLossError(absl::StrCat("index ", path_,
                                              ": entries value is not a record locator; the index "
                                              "generation is damaged: delete it so it is fetched "
                                              "again"));
    }
    std::memcpy(&locator, v.mv_data, sizeof(locator));
    ASSIGN_OR_RETURN(absl::string_view bytes, table_->EntryAt(locator));
    return DecodeEntry(bytes);
  }

  static absl::Status NotInIndex(absl::string_view rel_path) {
    return PosixError(ENOENT, absl::StrCat(rel_path, " is not in the index"));
  }

  // Visits every record of the entries database in key order, as (path, raw value), until
  // `visit` returns false.
  absl::Status ForEachRecord(
      absl::FunctionRef<bool(absl::string_view, const MDB_val&)> visit) const {
    Txn txn(this);
    MDB_cursor* cur = nullptr;
    if (txn.get() == nullptr || mdb_cursor_open(txn.get(), entries_, &cur) != 0) {
      return absl::InternalError("index cursor failed");
    }
    MDB_val k, v;
    std::string path;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      path = PathOfEntryKey(View(k));
      if (!visit(path, v)) break;
    }
    mdb_cursor_close(cur);
    return absl::OkStatus();
  }

  // Lookup with a cache of directory entries: every path of a dataset walks the same few
  // directories (repo, snapshots, <rev>, shard), so resolving a path costs about one index
  // lookup instead of one per component. The generation is immutable, so entries never go stale.
  absl::StatusOr<Entry> LookupDirectoryCached(absl::string_view rel_path) const {
    {
      std::lock_guard<std::mutex> lock(dir_mu_);
      auto it = dirs_.find(rel_path);
      if (it != dirs_.end()) return it->second;
    }
    absl::StatusOr<Entry> e = Lookup(rel_path);
    if (e.ok() && e->type == EntryType::kDirectory) {
      std::lock_guard<std::mutex> lock(dir_mu_);
      if (dirs_.size() >= kMaxCachedDirectories) dirs_.clear();  // bounded memory
      dirs_.emplace(std::string(rel_path), *e);
    }
    return e;
  }

  static constexpr size_t kMaxCachedDirectories = 65536;

  // A read transaction borrowed from the reader's pool for the duration of one call. Reset
  // transactions are reused (mdb_txn_renew) so a lookup costs no allocation.
  class Txn {
   public:
    explicit Txn(const LmdbIndexReader* r) : r_(r) {
      {
        std::lock_guard<std::mutex> lock(r_->mu_);
        if (!r_->idle_.empty()) {
          txn_ = r_->idle_.back();
          r_->idle_.pop_back();
        }
      }
      if (txn_ != nullptr && mdb_txn_renew(txn_) != 0) {
        mdb_txn_abort(txn_);
        txn_ = nullptr;
      }
      if (txn_ == nullptr && mdb_txn_begin(r_->env_, nullptr, MDB_RDONLY, &txn_) != 0) {
        txn_ = nullptr;
      }
    }
    ~Txn() {
      if (txn_ == nullptr) return;
      mdb_txn_reset(txn_);
      std::lock_guard<std::mutex> lock(r_->mu_);
      r_->idle_.push_back(txn_);
    }
    MDB_txn* get() const { return txn_; }

   private:
    const LmdbIndexReader* r_;
    MDB_txn* txn_ = nullptr;
  };

  std::string path_;
  MDB_env* env_ = nullptr;
  MDB_dbi entries_ = 0, meta_db_ = 0, packs_ = 0;
  std::optional<PathTable> table_;  // format version >= 2 only
  IndexMeta meta_;
  Entry root_;
  mutable std::mutex mu_;
  mutable std::mutex dir_mu_;
  mutable absl::flat_hash_map<std::string, Entry> dirs_;
  mutable std::vector<MDB_txn*> idle_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<IndexReader>> IndexReader::Open(const std::string& path) {
  auto reader = std::make_unique<LmdbIndexReader>(path);
  RETURN_IF_ERROR(reader->Init());
  return std::unique_ptr<IndexReader>(std::move(reader));
}

}  // namespace hfshim
