#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/base/hash.h"
#include "core/base/posix_error.h"
#include "core/index/index_reader.h"
#include "core/index/index_writer.h"
#include "core/index/lmdb_util.h"
#include "core/index/path_table.h"
#include "core/index/path_walk.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

constexpr char kRev[] = "0123456789abcdef0123456789abcdef01234567";
constexpr char kRepo[] = "models--org--m";

Entry Dir() {
  Entry e;
  e.type = EntryType::kDirectory;
  e.mode = S_IFDIR | 0755;
  e.nlink = 0;  // computed by the writer
  e.mtime_ns = 1000;
  return e;
}
Entry File(uint64_t size) {
  Entry e;
  e.type = EntryType::kFile;
  e.mode = S_IFREG | 0644;
  e.size = size;
  e.mtime_ns = 2000;
  e.content_hash = ContentHash(std::to_string(size));
  e.location = {absl::StrCat("packs/p", size % 2), size * 10, size};
  e.block_size = 1 << 22;
  if (size) e.block_checksums = {size};
  return e;
}
Entry Link(const std::string& target) {
  Entry e;
  e.type = EntryType::kSymlink;
  e.mode = S_IFLNK | 0777;
  e.size = target.size();
  e.symlink_target = target;
  return e;
}

using Tree = std::vector<std::pair<std::string, Entry>>;

// Adds every (path, entry) of `tree` to `w`, each with its path's inode number.
void AddTree(IndexWriter* w, Tree tree) {
  for (auto& [p, e] : tree) {
    e.ino = InodeForPath(p);
    ASSERT_TRUE(w->Add(p, e).ok()) << p;
  }
}

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hfshim-index-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/gen.mdb";
    auto w = IndexWriter::Create(path_);
    ASSERT_TRUE(w.ok()) << w.status();
    const std::string r = kRepo;
    Tree tree = {
        {r, Dir()},
        {r + "/blobs", Dir()},
        {r + "/blobs/aaa", File(5)},
        {r + "/blobs/bbb", File(0)},
        {r + "/refs", Dir()},
        {r + "/refs/main", File(40)},
        {r + "/refs/pr", Dir()},
        {r + "/refs/pr/1", File(40)},
        {r + "/snapshots", Dir()},
        {r + "/snapshots/" + kRev, Dir()},
        {r + "/snapshots/" + kRev + "/config.json", Link("../../blobs/aaa")},
        {r + "/snapshots/" + kRev + "/sub", Dir()},
        {r + "/snapshots/" + kRev + "/sub/na\xc3\xafve file.txt", Link("../../../blobs/bbb")},
        {r + "/snapshots/" + kRev + "/loop1", Link("loop2")},
        {r + "/snapshots/" + kRev + "/loop2", Link("loop1")},
        {r + "/snapshots/" + kRev + "/abs", Link("/etc/hostname")},
        {r + "/snapshots/" + kRev + "/up", Link("../../../../outside")},
        {r + "/snapshots/" + kRev + "/dirlink", Link("sub")},
        {r + "/.no_exist", Dir()},
        {r + "/.no_exist/" + kRev, Dir()},
        {r + "/.no_exist/" + kRev + "/missing.json", File(0)},
        {"datasets--org--d", Dir()},
    };
    for (int i = 0; i < 1000; ++i) {
      tree.push_back({absl::StrCat("datasets--org--d/f", 10000 + i), File(i % 7)});
    }
    AddTree(w->get(), std::move(tree));
    IndexMeta meta;
    meta.sequence = 42;
    meta.created_unix_ns = 5;
    ASSERT_TRUE((*w)->Finish(meta).ok());
    auto reader = IndexReader::Open(path_);
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = *std::move(reader);
  }
  void TearDown() override { ASSERT_EQ(system(("rm -rf " + dir_).c_str()), 0); }

  int Errno(absl::string_view p, bool follow = true) {
    auto r = reader_->Resolve(p, follow);
    return r.ok() ? 0 : StatusToErrno(r.status());
  }
  std::string snap(absl::string_view rest) const {
    return absl::StrCat(kRepo, "/snapshots/", kRev, rest);
  }

  // Copies the generation to `name` in the test directory and applies `edit` to its pathtable
  // database in a raw LMDB write transaction.
  std::string EditedCopy(const std::string& name,
                         const std::function<void(MDB_txn*, MDB_dbi)>& edit) {
    const std::string copy = dir_ + "/" + name;
    EXPECT_EQ(system(("cp " + path_ + " " + copy).c_str()), 0);
    MDB_env* env = nullptr;
    MDB_txn* txn = nullptr;
    MDB_dbi dbi;
    EXPECT_EQ(mdb_env_create(&env), 0);
    EXPECT_EQ(mdb_env_set_maxdbs(env, 8), 0);
    EXPECT_EQ(mdb_env_set_mapsize(env, size_t{1} << 30), 0);
    EXPECT_EQ(mdb_env_open(env, copy.c_str(), MDB_NOSUBDIR | MDB_NOLOCK, 0644), 0);
    EXPECT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    EXPECT_EQ(mdb_dbi_open(txn, kPathTableDb, 0, &dbi), 0);
    edit(txn, dbi);
    EXPECT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    return copy;
  }

  // Every entry ForEach reports is found by Lookup, identical.
  void ExpectEveryEntryLookedUp(const IndexReader& reader) {
    size_t n = 0;
    ASSERT_TRUE(reader
                    .ForEach([&](absl::string_view p, const Entry& e) {
                      auto found = reader.Lookup(p);
                      EXPECT_TRUE(found.ok()) << p << ": " << found.status();
                      if (found.ok()) {
                        EXPECT_EQ(*found, e) << p;
                      }
                      ++n;
                      return true;
                    })
                    .ok());
    EXPECT_EQ(n, 1022u);
  }

  std::string dir_, path_;
  std::unique_ptr<IndexReader> reader_;
};

TEST_F(IndexTest, MetaAndLookup) {
  EXPECT_EQ(reader_->meta().sequence, 42u);
  EXPECT_EQ(reader_->meta().format_version, 3u);
  EXPECT_EQ(reader_->meta().entry_count, 1022u);
  auto e = reader_->Lookup(std::string(kRepo) + "/blobs/aaa");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->size, 5u);
  EXPECT_EQ(e->ino, InodeForPath(std::string(kRepo) + "/blobs/aaa"));
  EXPECT_EQ(StatusToErrno(reader_->Lookup("nope").status()), ENOENT);
  auto root = reader_->Lookup("");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(S_ISDIR(root->mode));
  EXPECT_EQ(root->nlink, 4u);  // 2 + two repos
}

TEST_F(IndexTest, DirectoryNlinkCountsSubdirectories) {
  EXPECT_EQ(reader_->Lookup(kRepo)->nlink, 2u + 4u);  // blobs refs snapshots .no_exist
  EXPECT_EQ(reader_->Lookup(std::string(kRepo) + "/refs")->nlink, 3u);
  EXPECT_EQ(reader_->Lookup(std::string(kRepo) + "/blobs")->nlink, 2u);
}

TEST_F(IndexTest, ListingIsSortedAndPages) {
  auto all = reader_->List("datasets--org--d", "", 100000);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1000u);
  for (size_t i = 1; i < all->size(); ++i) EXPECT_LT((*all)[i - 1].name, (*all)[i].name);
  std::vector<std::string> paged;
  std::string after;
  while (true) {
    auto page = reader_->List("datasets--org--d", after, 64);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (auto& c : *page) paged.push_back(c.name);
    after = page->back().name;
  }
  ASSERT_EQ(paged.size(), 1000u);
  EXPECT_EQ(paged.front(), "f10000");
  EXPECT_EQ(paged.back(), "f10999");
  auto root = reader_->List("", "", 10);
  ASSERT_TRUE(root.ok());
  ASSERT_EQ(root->size(), 2u);
  EXPECT_EQ((*root)[0].name, "datasets--org--d");
  auto repo = reader_->List(kRepo, "", 10);
  ASSERT_TRUE(repo.ok());
  ASSERT_EQ(repo->size(), 4u);
  EXPECT_EQ((*repo)[0].name, ".no_exist");  // grandchildren are not listed
  EXPECT_EQ(StatusToErrno(reader_->List(std::string(kRepo) + "/blobs/aaa", "", 1).status()),
            ENOTDIR);
  EXPECT_EQ(StatusToErrno(reader_->List("nope", "", 1).status()), ENOENT);
}

TEST_F(IndexTest, ResolveFollowsSnapshotLinksToBlobs) {
  auto r = reader_->Resolve(snap("/config.json"), true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->in_index);
  EXPECT_EQ(r->path, std::string(kRepo) + "/blobs/aaa");
  EXPECT_EQ(r->entry.size, 5u);
  auto nofollow = reader_->Resolve(snap("/config.json"), false);
  ASSERT_TRUE(nofollow.ok());
  EXPECT_EQ(nofollow->entry.type, EntryType::kSymlink);
  EXPECT_EQ(nofollow->path, snap("/config.json"));
  auto accented = reader_->Resolve(snap("/sub/na\xc3\xafve file.txt"), true);
  ASSERT_TRUE(accented.ok());
  EXPECT_EQ(accented->path, std::string(kRepo) + "/blobs/bbb");
}

TEST_F(IndexTest, ResolveHandlesDotsSlashesAndDotDot) {
  EXPECT_EQ(reader_->Resolve(snap("/./sub//na\xc3\xafve file.txt"), true)->path,
            std::string(kRepo) + "/blobs/bbb");
  auto r = reader_->Resolve(absl::StrCat(kRepo, "/snapshots/", kRev, "/../", kRev, "/config.json"),
                            true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, std::string(kRepo) + "/blobs/aaa");
  EXPECT_EQ(reader_->Resolve(snap("/dirlink/"), true)->path, snap("/sub"));
  EXPECT_EQ(reader_->Resolve("", true)->path, "");
  EXPECT_EQ(reader_->Resolve(std::string(kRepo) + "/..", true)->path, "");
}

TEST_F(IndexTest, ResolveErrorsMatchTheKernel) {
  EXPECT_EQ(Errno(snap("/missing")), ENOENT);
  EXPECT_EQ(Errno(snap("/config.json/")), ENOTDIR);
  EXPECT_EQ(Errno(std::string(kRepo) + "/blobs/aaa/x"), ENOTDIR);
  EXPECT_EQ(Errno(snap("/loop1")), ELOOP);
  EXPECT_EQ(Errno(snap("/loop1"), /*follow=*/false), 0);
  EXPECT_EQ(Errno(snap("/loop1/x"), false), ELOOP);
  EXPECT_EQ(Errno(std::string(5000, 'a')), ENAMETOOLONG);
  EXPECT_EQ(Errno(std::string(300, 'a')), ENAMETOOLONG);
}

TEST_F(IndexTest, ResolveReportsEscapes) {
  auto up = reader_->Resolve("../x/y", true);
  ASSERT_TRUE(up.ok());
  EXPECT_FALSE(up->in_index);
  EXPECT_EQ(up->escaped_path, "x/y");
  auto rel = reader_->Resolve(snap("/up"), true);
  ASSERT_TRUE(rel.ok());
  EXPECT_FALSE(rel->in_index);
  EXPECT_EQ(rel->escaped_path, "outside");
  auto abs = reader_->Resolve(snap("/abs"), true);
  ASSERT_TRUE(abs.ok());
  EXPECT_FALSE(abs->in_index);
  EXPECT_EQ(abs->escaped_path, "/etc/hostname");
}

TEST_F(IndexTest, ForEachVisitsEveryEntryWithItsPath) {
  size_t n = 0;
  bool saw_blob = false;
  ASSERT_TRUE(reader_
                  ->ForEach([&](absl::string_view p, const Entry& e) {
                    ++n;
                    if (p == std::string(kRepo) + "/blobs/aaa") saw_blob = e.size == 5;
                    return true;
                  })
                  .ok());
  EXPECT_EQ(n, 1022u);
  EXPECT_TRUE(saw_blob);
}

// The same paths without their entries; an entry's inode number is its path's (InodeForPath),
// which is how a path is found by inode (readlink of a virtual fd).
TEST_F(IndexTest, ForEachPathVisitsThePathsOfForEachAndStopsWhenAsked) {
  std::vector<std::string> paths, with_entries;
  ASSERT_TRUE(reader_
                  ->ForEach([&](absl::string_view p, const Entry& e) {
                    with_entries.emplace_back(p);
                    EXPECT_EQ(e.ino, InodeForPath(p)) << p;
                    return true;
                  })
                  .ok());
  ASSERT_TRUE(reader_
                  ->ForEachPath([&](absl::string_view p) {
                    paths.emplace_back(p);
                    return true;
                  })
                  .ok());
  EXPECT_EQ(paths, with_entries);
  size_t visited = 0;
  ASSERT_TRUE(reader_->ForEachPath([&](absl::string_view) { return ++visited < 10; }).ok());
  EXPECT_EQ(visited, 10u);
}

TEST_F(IndexTest, PackMembersInRange) {
  // Files of size s live in packs/p(s%2) at offset 10*s: p1 has sizes 1,3,5 at 10,30,50.
  auto m = reader_->PackMembers("packs/p1", 0, 40);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].offset, 10u);
  EXPECT_EQ((*m)[1].offset, 30u);
  EXPECT_EQ((*m)[1].length, 3u);
  EXPECT_EQ((*m)[1].checksum, 3u);
  auto none = reader_->PackMembers("packs/p1", 31, 33);  // 30..33 starts before the range
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(IndexTest, ConcurrentLookupsFromManyThreads) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto e = reader_->Lookup(absl::StrCat("datasets--org--d/f", 10000 + (i * 7 + t) % 1000));
        if (!e.ok()) ++failures;
        auto r = reader_->Resolve(snap("/config.json"), true);
        if (!r.ok() || r->entry.size != 5) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(IndexTest, TruncatedOrGarbageFileIsDataLossNotACrash) {
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  for (off_t keep : {off_t{0}, off_t{100}, st.st_size / 2}) {
    const std::string copy = dir_ + "/trunc" + std::to_string(keep) + ".mdb";
    ASSERT_EQ(system(("head -c " + std::to_string(keep) + " " + path_ + " > " + copy).c_str()), 0);
    auto r = IndexReader::Open(copy);
    ASSERT_FALSE(r.ok()) << keep;
    EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  }
  const std::string garbage = dir_ + "/garbage.mdb";
  std::ofstream(garbage) << std::string(65536, 'x');
  EXPECT_TRUE(absl::IsDataLoss(IndexReader::Open(garbage).status()));
  EXPECT_EQ(StatusToErrno(IndexReader::Open(dir_ + "/absent.mdb").status()), ENOENT);
}

TEST_F(IndexTest, LookupFindsEveryEntryThroughThePathTable) {
  ExpectEveryEntryLookedUp(*reader_);
  // Absent paths, including prefixes and extensions of present ones.
  for (const std::string& p : {std::string(kRepo) + "/blob", std::string(kRepo) + "/blobs/aaaa",
                               std::string("datasets--org--d/f1"), std::string("x")}) {
    EXPECT_EQ(StatusToErrno(reader_->Lookup(p).status()), ENOENT) << p;
  }
}

// Writes the entries of `reader` as a generation without a path table, labelled `version`:
// version 1 is what writers before version 2 wrote (FORMAT.md: entries values are the encoded
// entries); a higher one stands for a format from a newer hfshim.
void WriteVersion1(const IndexReader& reader, const std::string& path, uint32_t version = 1) {
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi entries, meta, packs;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_maxdbs(env, 4), 0);
  ASSERT_EQ(mdb_env_set_mapsize(env, size_t{1} << 30), 0);
  ASSERT_EQ(mdb_env_open(env, path.c_str(), MDB_NOSUBDIR | MDB_NOLOCK, 0644), 0);
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  ASSERT_EQ(mdb_dbi_open(txn, kEntriesDb, MDB_CREATE, &entries), 0);
  ASSERT_EQ(mdb_dbi_open(txn, kMetaDb, MDB_CREATE, &meta), 0);
  ASSERT_EQ(mdb_dbi_open(txn, kPacksDb, MDB_CREATE, &packs), 0);
  ASSERT_TRUE(reader
                  .ForEach([&](absl::string_view p, const Entry& linked) {
                    Entry e = linked;  // version 1 had no linked files
                    e.link_record = 0;
                    e.link_hops = 0;
                    const std::string key = EntryKey(p), value = EncodeEntry(e);
                    MDB_val k = Val(key);
                    MDB_val v = Val(value);
                    EXPECT_EQ(mdb_put(txn, entries, &k, &v, 0), 0);
                    return true;
                  })
                  .ok());
  IndexMeta m = reader.meta();
  m.format_version = version;
  const std::string encoded = EncodeMeta(m);
  MDB_val mk = Val(kMetaKey);
  MDB_val mv = Val(encoded);
  ASSERT_EQ(mdb_put(txn, meta, &mk, &mv, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

// Generations written before the path table (format version 1) are still read, through the
// entries B-tree.
TEST_F(IndexTest, Version1GenerationIsReadThroughTheBTree) {
  const std::string old = dir_ + "/v1.mdb";
  WriteVersion1(*reader_, old);
  auto reader = IndexReader::Open(old);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->meta().format_version, 1u);
  ExpectEveryEntryLookedUp(**reader);
  EXPECT_EQ(StatusToErrno((*reader)->Lookup("nope").status()), ENOENT);
  EXPECT_EQ((*reader)->Resolve(snap("/config.json"), true)->path,
            std::string(kRepo) + "/blobs/aaa");
  auto listed = (*reader)->List("datasets--org--d", "", 5000);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 1000u);
  auto want = reader_->List("datasets--org--d", "", 5000);
  ASSERT_TRUE(want.ok());
  for (size_t i = 0; i < listed->size(); ++i) {
    EXPECT_EQ((*listed)[i].name, (*want)[i].name);
    EXPECT_EQ((*listed)[i].entry, (*want)[i].entry);
  }
}

// A generation from a newer hfshim is not a damaged one: the error says to upgrade.
TEST_F(IndexTest, NewerFormatAsksForAnUpgradeAndIsNotDataLoss) {
  const std::string newer = dir_ + "/v99.mdb";
  WriteVersion1(*reader_, newer, 99);
  auto reader = IndexReader::Open(newer);
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(reader.status())) << reader.status();
  EXPECT_NE(reader.status().message().find("upgrade hfshim"), absl::string_view::npos);
}

TEST_F(IndexTest, DamagedPathTableIsDataLoss) {
  {
    const std::string copy = EditedCopy("no-table.mdb", [](MDB_txn* txn, MDB_dbi dbi) {
      EXPECT_EQ(mdb_drop(txn, dbi, /*del=*/1), 0);
    });
    auto r = IndexReader::Open(copy);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
    EXPECT_NE(r.status().message().find("path table is missing"), absl::string_view::npos)
        << r.status();
  }
  for (const char* key : {"head", "slots", "records/0"}) {
    const std::string copy = EditedCopy(absl::StrCat("damaged-", std::string(1, key[0]), ".mdb"),
                                        [key](MDB_txn* txn, MDB_dbi dbi) {
                                          MDB_val k = Val(key);
                                          EXPECT_EQ(mdb_del(txn, dbi, &k, nullptr), 0);
                                        });
    auto r = IndexReader::Open(copy);
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
    EXPECT_NE(r.status().message().find("fetched again"), absl::string_view::npos) << r.status();
  }
}

// Golden bytes of a minimal path table (FORMAT.md, "pathtable"): this test fails when the layout
// changes, which requires bumping the table version and updating core/index/FORMAT.md.
// A generation file opened with LMDB directly, read-only, to check its raw layout.
class RawGeneration {
 public:
  explicit RawGeneration(const std::string& path) {
    ok_ = mdb_env_create(&env_) == 0 && mdb_env_set_maxdbs(env_, 8) == 0 &&
          mdb_env_open(env_, path.c_str(), MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0) == 0 &&
          mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn_) == 0;
  }
  ~RawGeneration() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    if (env_ != nullptr) mdb_env_close(env_);
  }
  bool ok() const { return ok_; }
  // The value of `key` in database `db` ("" if there is none).
  std::string Get(const char* db, absl::string_view key) {
    MDB_dbi dbi;
    MDB_val k = Val(key), v;
    if (mdb_dbi_open(txn_, db, 0, &dbi) != 0 || mdb_get(txn_, dbi, &k, &v) != 0) return "";
    return std::string(static_cast<const char*>(v.mv_data), v.mv_size);
  }
  // The record locator the entries database holds for `path` (~0 if none).
  uint64_t Locator(absl::string_view path) {
    const std::string v = Get(kEntriesDb, EntryKey(path));
    uint64_t loc = ~uint64_t{0};
    if (v.size() == 8) std::memcpy(&loc, v.data(), 8);
    return loc;
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
  bool ok_ = false;
};

TEST(PathTableTest, LayoutIsPinned) {
  TempDir tmp;
  const std::string path = tmp.Sub("g.mdb");
  {
    auto w = IndexWriter::Create(path);
    ASSERT_TRUE(w.ok());
    Entry d = Dir();
    d.ino = 9;
    Entry l = Link("t");
    l.ino = 7;
    ASSERT_TRUE((*w)->Add("a", d).ok());
    ASSERT_TRUE((*w)->Add("a/b", l).ok());
    ASSERT_TRUE((*w)->Finish(IndexMeta{}).ok());
  }
  RawGeneration raw(path);
  ASSERT_TRUE(raw.ok());
  auto get = [&](absl::string_view key) { return raw.Get(kPathTableDb, key); };
  // version 1, 1 records chunk, 8 slots, 2 records.
  EXPECT_EQ(absl::BytesToHexString(get("head")),
            "01000000"
            "01000000"
            "0800000000000000"
            "0200000000000000");
  // Records in entries-key order ("\0a" < "a\0b"): u16 path length, path, u32 entry length,
  // entry (EncodeEntry, pinned in entry_test.cc).
  EXPECT_EQ(absl::BytesToHexString(get("records/0")),
            "0100"
            "61"
            "24000000"
            "01010000ed410000020000000900000000000000"
            "0000000000000000"
            "e803000000000000"
            "0300"
            "612f62"
            "29000000"
            "01030000ffa10000010000000700000000000000"
            "0100000000000000"
            "0000000000000000"
            "01000000"
            "74");
  // Slots: at PathHash & 7 (the next free one on a clash), fingerprint << 40 | (offset + 1).
  const std::string slots = get("slots");
  ASSERT_EQ(slots.size(), 64u);
  std::vector<uint64_t> want(8, 0);
  const std::pair<const char*, uint64_t> records[] = {{"a", 0}, {"a/b", 2 + 1 + 4 + 36}};
  for (const auto& [p, offset] : records) {
    uint64_t i = PathHash(p) & 7;
    while (want[i] != 0) i = (i + 1) & 7;
    want[i] = (PathHash(p) >> 40 << 40) | (offset + 1);
  }
  EXPECT_EQ(std::memcmp(slots.data(), want.data(), 64), 0);
  // The entries database maps each key to its record's locator (u64, little-endian).
  for (const auto& [p, offset] : records) EXPECT_EQ(raw.Locator(p), offset) << p;
}

// Every path shares one hash: each lookup walks a probe chain of records of other paths, so only
// the full-path comparison can tell them apart.
class CollidingIndexTest : public IndexTest {
 protected:
  void SetUp() override {
    SetIndexPathHashForTesting(hash_);
    IndexTest::SetUp();
  }
  void TearDown() override {
    SetIndexPathHashForTesting(nullptr);
    IndexTest::TearDown();
  }
  IndexPathHashFn hash_ = [](absl::string_view) -> uint64_t { return 0xabcdef0000000003ULL; };
};

TEST_F(CollidingIndexTest, LookupTellsCollidingPathsApart) {
  ExpectEveryEntryLookedUp(*reader_);
  EXPECT_EQ(StatusToErrno(reader_->Lookup("nope").status()), ENOENT);
  EXPECT_EQ(StatusToErrno(reader_->Lookup(std::string(kRepo) + "/blobs/aa").status()), ENOENT);
  EXPECT_EQ(reader_->Resolve(snap("/config.json"), true)->path, std::string(kRepo) + "/blobs/aaa");
}

// Same first slot, different fingerprints (the hash differs only in its top bits).
class FingerprintOnlyIndexTest : public CollidingIndexTest {
 protected:
  FingerprintOnlyIndexTest() {
    hash_ = [](absl::string_view p) -> uint64_t { return (uint64_t{p.size()} << 40) | 5; };
  }
};

TEST_F(FingerprintOnlyIndexTest, LookupSkipsOtherFingerprints) {
  ExpectEveryEntryLookedUp(*reader_);
  EXPECT_EQ(StatusToErrno(reader_->Lookup("nope").status()), ENOENT);
}

TEST(IndexWriterTest, OrphanEntriesAreRejected) {
  TempDir tmp;
  const std::string path = tmp.Sub("g.mdb");
  auto w = IndexWriter::Create(path);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Add("a/b", File(1)).ok());
  auto s = (*w)->Finish(IndexMeta{});
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("'a'"), absl::string_view::npos);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "nothing may appear at the path on failure";
  EXPECT_FALSE((*w)->Add("/abs", File(1)).ok());
}

// Format 3: a symlink whose walk ends at a file records that file; a reader takes it from there.
TEST_F(IndexTest, LinksToFilesRecordTheirFile) {
  auto link = reader_->Lookup(snap("/config.json"));
  ASSERT_TRUE(link.ok());
  ASSERT_NE(link->link_record, 0u);
  EXPECT_EQ(link->link_hops, 1u);
  std::string path;
  auto file = reader_->LinkedFile(link->link_record, &path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(path, std::string(kRepo) + "/blobs/aaa");
  EXPECT_EQ(*file, *reader_->Lookup(path));
  // Loops, links out of the tree and links to directories are walked by readers.
  for (const char* name : {"/loop1", "/abs", "/up", "/dirlink"}) {
    EXPECT_EQ(reader_->Lookup(snap(name))->link_record, 0u) << name;
  }
  EXPECT_EQ(StatusToErrno(reader_->LinkedFile(1ull << 39, &path).status()), EIO);  // damaged
}

// A file that symlinks lead to is placed right after the first of those links (in key order),
// wherever its own key sorts: resolving a snapshot file reads neighbouring records. Every entry
// still maps to its own record.
TEST(IndexLinksTest, LinkedFilesAreRecordedRightAfterTheirFirstLink) {
  TempDir tmp;
  const std::string path = tmp.Sub("gen.mdb");
  auto w = IndexWriter::Create(path);
  ASSERT_TRUE(w.ok());
  AddTree(w->get(), {{"r", Dir()},
                     {"r/blobs", Dir()},
                     {"r/blobs/b1", File(3)},
                     {"r/blobs/b2", File(5)},
                     {"r/blobs/lonely", File(7)},
                     {"r/a", Dir()},
                     {"r/a/x", Link("../blobs/b2")},  // first link to b2
                     {"r/a/y", Link("../blobs/b1")},  // first link to b1
                     {"r/a/z", Link("../blobs/b1")},  // second link to b1
                     {"r/a/xchain", Link("x")},       // b2 through x
                     {"r/a/zlast", Link("../zz/late")},
                     {"r/zz", Dir()},
                     {"r/zz/late", File(2)}});  // sorts after its link
  ASSERT_TRUE((*w)->Finish(IndexMeta{}).ok());
  auto reader = IndexReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  RawGeneration raw(path);
  ASSERT_TRUE(raw.ok());
  auto locator = [&](const std::string& p) { return raw.Locator(p); };
  auto right_after = [&](const std::string& link) -> uint64_t {
    const absl::StatusOr<Entry> e = (*reader)->Lookup(link);
    if (!e.ok()) return ~0ull;
    return locator(link) + RecordPlacer::RecordSize(link, EncodeEntry(*e).size());
  };
  EXPECT_EQ(locator("r/blobs/b2"), right_after("r/a/x"));
  EXPECT_EQ(locator("r/blobs/b1"), right_after("r/a/y"));
  EXPECT_EQ(locator("r/zz/late"), right_after("r/a/zlast"));
  for (const char* link : {"r/a/x", "r/a/y", "r/a/z", "r/a/xchain", "r/a/zlast"}) {
    const absl::StatusOr<Entry> e = (*reader)->Lookup(link);
    ASSERT_TRUE(e.ok()) << link;
    const absl::StatusOr<Resolved> target = (*reader)->Resolve(link, true);
    ASSERT_TRUE(target.ok()) << link;
    EXPECT_EQ(e->link_record, locator(target->path) + 1) << link;
  }
  // Every entry is found, listed and resolved as written.
  for (const char* p : {"r/blobs/b1", "r/blobs/b2", "r/blobs/lonely", "r/zz/late", "r/a/z"}) {
    EXPECT_TRUE((*reader)->Lookup(p).ok()) << p;
  }
  EXPECT_EQ((*reader)->Lookup("r/blobs/lonely")->size, 7u);
  EXPECT_EQ((*reader)->Resolve("r/a/xchain", true)->path, "r/blobs/b2");
  auto listing = (*reader)->List("r/blobs", "", 100);
  ASSERT_TRUE(listing.ok()) << listing.status();
  ASSERT_EQ(listing->size(), 3u);
  EXPECT_EQ((*listing)[0].name, "b1");
  EXPECT_EQ((*listing)[2].entry.size, 7u);
}

// Resolving with the recorded files gives what walking every link gives, hop limit included:
// chains of 38 to 41 links to a file, reached directly and through a directory link.
TEST(IndexLinksTest, RecordedFilesResolveAsTheWalkDoes) {
  TempDir tmp;
  const std::string path = tmp.Sub("gen.mdb");
  auto w = IndexWriter::Create(path);
  ASSERT_TRUE(w.ok());
  Tree tree = {{"r", Dir()},
               {"r/d", Dir()},
               {"r/d/file", File(3)},
               {"r/dl", Link("d")},
               {"r/two", Link("one")},
               {"r/one", Link("d/file")},
               {"r/d/up", Link("../one")}};
  for (int len : {38, 39, 40, 41}) {  // c<len>_0 -> c<len>_1 -> ... -> d/file
    for (int i = 0; i < len; ++i) {
      tree.push_back({absl::StrCat("r/d/c", len, "_", i),
                      Link(i + 1 < len ? absl::StrCat("c", len, "_", i + 1) : "file")});
    }
  }
  AddTree(w->get(), std::move(tree));
  ASSERT_TRUE((*w)->Finish(IndexMeta{}).ok());
  auto reader = IndexReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const IndexReader& r = **reader;
  EXPECT_EQ(r.Lookup("r/two")->link_hops, 2u);
  EXPECT_EQ(r.Lookup("r/d/c40_0")->link_hops, 40u);
  EXPECT_EQ(r.Lookup("r/d/c41_0")->link_record, 0u) << "ELOOP: nothing to record";
  auto describe = [](const absl::StatusOr<Resolved>& res) {
    if (!res.ok()) return absl::StrCat("errno ", StatusToErrno(res.status()));
    return absl::StrCat(res->in_index, " ", res->path, " ", res->symlink_hops, " ", res->entry.ino,
                        " ", res->entry.size);
  };
  int recorded = 0;
  for (const std::string dir : {"r/d", "r/dl"}) {
    for (const std::string name : {"c38_0", "c39_0", "c40_0", "c41_0", "up", "file"}) {
      for (const std::string rest : {"", "/", "/."}) {
        const std::string p = absl::StrCat(dir, "/", name, rest);
        for (bool follow : {true, false}) {
          const absl::StatusOr<Resolved> walked =
              ResolvePath(p, follow, [&](absl::string_view q, bool) { return r.Lookup(q); });
          EXPECT_EQ(describe(r.Resolve(p, follow)), describe(walked)) << p << " " << follow;
          recorded += walked.ok() && follow && rest.empty();
        }
      }
    }
  }
  EXPECT_GT(recorded, 4);

  // One plain name from a resolved directory (ResolvePathFrom's own step) answers as the
  // general walk does ("./name" takes the walk): hop limits, links recorded or not, no link
  // table, missing names, names too long.
  const absl::StatusOr<Entry> d = r.Lookup("r/d");
  ASSERT_TRUE(d.ok());
  auto lookup = [&](absl::string_view q, bool) { return r.Lookup(q); };
  int compared = 0;
  for (int hops : {0, 1, 2, 38, 39, 40}) {
    for (const std::string& name :
         std::vector<std::string>{"c38_0", "c39_0", "c40_0", "c41_0", "up", "file", "missing",
                                  "c40_39", std::string(256, 'x')}) {
      for (bool follow : {true, false}) {
        for (const IndexReader* links : {&r, static_cast<const IndexReader*>(nullptr)}) {
          EXPECT_EQ(describe(ResolvePathFrom("r/d", *d, hops, name, follow, lookup, links)),
                    describe(ResolvePathFrom("r/d", *d, hops, "./" + name, follow, lookup, links)))
              << name << " hops " << hops << " follow " << follow << " links "
              << (links != nullptr);
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, 6 * 9 * 2 * 2);
}

}  // namespace
}  // namespace hfshim
