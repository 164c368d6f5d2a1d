#include "core/index/index_writer.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/hash.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/index/lmdb_util.h"
#include "core/index/path_table.h"
#include "core/index/path_walk.h"

namespace hfshim {
namespace {

constexpr char kStagingDb[] = "staging";

constexpr size_t kBuildMapSize = size_t{1} << 40;  // address space only; the file grows as used

// The map size to build with: kBuildMapSize, at most half the address space this process may
// have under `ulimit -v` (RLIMIT_AS) and at most its file size limit (`ulimit -f`,
// RLIMIT_FSIZE: LMDB sizes a MDB_WRITEMAP file to the map, and past the limit the kernel kills
// the process with SIGXFSZ). A build that outgrows it fails with MDB_MAP_FULL (LmdbError says
// which limits to raise).
size_t BuildMapSize() {
  size_t size = kBuildMapSize;
  struct rlimit r;
  if (getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != RLIM_INFINITY) {
    size = std::min<size_t>(size, r.rlim_cur / 2);
  }
  if (getrlimit(RLIMIT_FSIZE, &r) == 0 && r.rlim_cur != RLIM_INFINITY) {
    size = std::min<size_t>(size, r.rlim_cur);
  }
  return size;
}

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
    if (rc == 0) rc = mdb_env_set_mapsize(env_, BuildMapSize());
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
    std::string value;
    if (entry.link_record != 0) {  // derived by Finish for this tree (e.g. copied from a base)
      Entry unlinked = entry;
      unlinked.link_record = 0;
      unlinked.link_hops = 0;
      value = EncodeEntry(unlinked);
    } else {
      value = EncodeEntry(entry);
    }
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

  uint64_t entry_count() const override { return paths_.size(); }

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
    meta.entry_count = entry_count();
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
  // Turns the staged entries into the final layout (FORMAT.md, version 3): a path table record
  // per entry and the entries database mapping each key to its record's locator, appended in
  // key order so its pages are full. Records are placed in key order (a directory's children
  // are adjacent records), except that a file symlinks lead to (a blob) is placed right after
  // the first of those links: resolving a snapshot file then reads two neighbouring records
  // instead of two far apart. Each such link records its file's locator. The staging database
  // is dropped: the compacting copy leaves its pages out.
  absl::Status WriteEntriesAndPathTable() {
    ASSIGN_OR_RETURN(LinkedFiles links, PlanLinkedFiles());
    absl::flat_hash_set<std::string> linked_files;  // placed after their first link
    for (const auto& [link, plan] : links) linked_files.insert(plan.file);
    absl::flat_hash_map<std::string, uint64_t> file_locators;  // linked files placed so far
    // Entry i in key order -> its record's locator (kUnplaced until placed).
    constexpr uint64_t kUnplaced = ~uint64_t{0};
    std::vector<uint64_t> locators;
    absl::flat_hash_map<std::string, size_t> waiting;  // linked files met before their link
    PathTableBuilder table(txn_, pathtable_, build_path_);
    RecordPlacer placer;  // follows `table`'s placement, to tell a file's locator in advance
    auto add = [&](absl::string_view path, absl::string_view value) -> absl::StatusOr<uint64_t> {
      ASSIGN_OR_RETURN(const uint64_t planned,
                       placer.Place(RecordPlacer::RecordSize(path, value.size())));
      ASSIGN_OR_RETURN(const uint64_t locator, table.Add(path, value));
      if (locator != planned) {
        return absl::InternalError(
            absl::StrCat("index writer placed ", path, " at ", locator, ", planned ", planned));
      }
      return locator;
    };
    RETURN_IF_ERROR(ForEachStaged([&](absl::string_view key, absl::string_view value) {
      const std::string path = PathOfEntryKey(key);
      const size_t index = locators.size();
      locators.push_back(kUnplaced);
      if (linked_files.contains(path)) {
        if (auto placed = file_locators.find(path); placed != file_locators.end()) {
          locators[index] = placed->second;
        } else {
          waiting.emplace(path, index);
        }
        return absl::OkStatus();
      }
      auto link = links.find(path);
      if (link == links.end()) {
        ASSIGN_OR_RETURN(locators[index], add(path, value));
        return absl::OkStatus();
      }
      const std::string& file = link->second.file;
      if (auto placed = file_locators.find(file); placed != file_locators.end()) {
        ASSIGN_OR_RETURN(std::string linked,
                         WithLinkedFile(value, link->second, placed->second + 1));
        ASSIGN_OR_RETURN(locators[index], add(path, linked));
        return absl::OkStatus();
      }
      // The first link to `file`: the link, then the file right after it.
      ASSIGN_OR_RETURN(const std::string file_value, StagedValue(file));
      ASSIGN_OR_RETURN(const std::string sized, WithLinkedFile(value, link->second, 1));
      RecordPlacer ahead = placer;
      RETURN_IF_ERROR(ahead.Place(RecordPlacer::RecordSize(path, sized.size())).status());
      ASSIGN_OR_RETURN(const uint64_t file_locator,
                       ahead.Place(RecordPlacer::RecordSize(file, file_value.size())));
      ASSIGN_OR_RETURN(std::string linked, WithLinkedFile(value, link->second, file_locator + 1));
      ASSIGN_OR_RETURN(locators[index], add(path, linked));
      ASSIGN_OR_RETURN(const uint64_t placed, add(file, file_value));
      if (placed != file_locator) {
        return absl::InternalError(
            absl::StrCat("index writer placed ", file, " at ", placed, ", planned ", file_locator));
      }
      file_locators.emplace(file, placed);
      if (auto w = waiting.find(file); w != waiting.end()) locators[w->second] = placed;
      return absl::OkStatus();
    }));
    RETURN_IF_ERROR(table.Finish());
    size_t index = 0;
    RETURN_IF_ERROR(ForEachStaged([&](absl::string_view key, absl::string_view) {
      const uint64_t locator = locators[index++];
      if (locator == kUnplaced) {
        return absl::InternalError(
            absl::StrCat("index writer left ", PathOfEntryKey(key), " without a record"));
      }
      MDB_val k = Val(key), lv{sizeof(locator), const_cast<uint64_t*>(&locator)};
      int put = mdb_put(txn_, entries_, &k, &lv, MDB_APPEND);
      if (put != 0) return LmdbError(put, "write index entries", build_path_);
      return absl::OkStatus();
    }));
    int rc = mdb_drop(txn_, staging_, /*del=*/1);
    if (rc != 0) return LmdbError(rc, "drop index staging", build_path_);
    return absl::OkStatus();
  }

  // A symlink whose walk (following links, from the link itself) ends at a file of the tree.
  struct LinkedFile {
    std::string file;   // the file's canonical path
    uint32_t hops = 0;  // links followed, this one included
  };
  using LinkedFiles = absl::flat_hash_map<std::string, LinkedFile>;  // by the link's path

  // Every staged symlink that leads to a file: walked here as a reader would walk it (the tree
  // is final), so readers of the generation may skip the walk. Links leaving the tree, dangling
  // or leading to directories are left to the readers' walk.
  absl::StatusOr<LinkedFiles> PlanLinkedFiles() {
    LinkedFiles links;
    absl::flat_hash_map<std::string, Entry> dirs;  // directories met, by path
    auto lookup = [&](absl::string_view p, bool) -> absl::StatusOr<Entry> {
      if (auto it = dirs.find(p); it != dirs.end()) return it->second;
      ASSIGN_OR_RETURN(Entry e, StagedEntry(p));
      if (e.type == EntryType::kDirectory) dirs.emplace(p, e);
      return e;
    };
    RETURN_IF_ERROR(ForEachStaged([&](absl::string_view key, absl::string_view value) {
      ASSIGN_OR_RETURN(Entry e, DecodeEntry(value));
      if (e.type != EntryType::kSymlink) return absl::OkStatus();
      std::string path = PathOfEntryKey(key);
      absl::StatusOr<Resolved> r = ResolvePath(path, /*follow_last=*/true, lookup);
      if (r.ok() && r->in_index && r->entry.type == EntryType::kFile) {
        links[std::move(path)] = {std::move(r->path), static_cast<uint32_t>(r->symlink_hops)};
      }
      return absl::OkStatus();
    }));
    return links;
  }

  // The encoded staged entry at `rel_path` (not the root); ENOENT if there is none.
  absl::StatusOr<std::string> StagedValue(absl::string_view rel_path) {
    const std::string key = EntryKey(rel_path);
    MDB_val k = Val(key), v;
    int rc = mdb_get(txn_, staging_, &k, &v);
    if (rc == MDB_NOTFOUND) return PosixError(ENOENT, absl::StrCat(rel_path, " is not staged"));
    if (rc != 0) return LmdbError(rc, "read back index", build_path_);
    return std::string(View(v));
  }

  // The staged entry at `rel_path` ("" = the root, synthesised); ENOENT if there is none.
  absl::StatusOr<Entry> StagedEntry(absl::string_view rel_path) {
    if (rel_path.empty()) {
      Entry root;
      root.type = EntryType::kDirectory;
      root.mode = S_IFDIR | 0755;
      return root;
    }
    ASSIGN_OR_RETURN(const std::string value, StagedValue(rel_path));
    return DecodeEntry(value);
  }

  // The encoded symlink `value` recording its linked file, whose record is `record`.
  static absl::StatusOr<std::string> WithLinkedFile(absl::string_view value, const LinkedFile& link,
                                                    uint64_t record) {
    ASSIGN_OR_RETURN(Entry e, DecodeEntry(value));
    e.link_record = record;
    e.link_hops = link.hops;
    return EncodeEntry(e);
  }

  // Calls `visit` with every staged (entry key, encoded entry) in key order, the order records
  // are written in; stops at the first error.
  absl::Status ForEachStaged(
      absl::FunctionRef<absl::Status(absl::string_view key, absl::string_view value)> visit) {
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn_, staging_, &cur);
    if (rc != 0) return LmdbError(rc, "read back index", build_path_);
    MDB_val k, v;
    absl::Status status;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      status = visit(View(k), View(v));
      if (!status.ok()) break;
    }
    mdb_cursor_close(cur);
    RETURN_IF_ERROR(status);
    if (rc != MDB_NOTFOUND) return LmdbError(rc, "read back index", build_path_);
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
