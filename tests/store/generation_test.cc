#include "core/index/generation.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/base/hash.h"
#include "core/env/file_util.h"
#include "core/index/index_writer.h"
#include "core/store/layout.h"
#include "core/store/local_store.h"
#include "core/vfs/generations.h"
#include "core/vfs/store_generations.h"
#include "gtest/gtest.h"
#include "tests/testing/process_limits.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

absl::Time Later() { return absl::Now() + absl::Seconds(30); }

TEST(HeadRecordTest, EncodingIsPinnedAndRoundTrips) {
  HeadRecord h{7, "index/0123456789abcdef0123456789abcdef.mdb", 99, 12};
  EXPECT_EQ(EncodeHead(h),
            "hfshim-head 1\nsequence 7\nindex index/0123456789abcdef0123456789abcdef.mdb\n"
            "created_unix_ns 99\nentries 12\n");
  EXPECT_EQ(*DecodeHead(EncodeHead(h)), h);
  EXPECT_TRUE(absl::IsDataLoss(DecodeHead("hfshim-head 2\nsequence 1\n").status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeHead("garbage").status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeHead("hfshim-head 1\nsequence x\n").status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeHead("hfshim-head 1\nsequence 1\nindex bad\n").status()));
}

// Builds a one-directory generation (a repo dir named `repo`) in `tmp`, stores it and returns
// its store key and bytes.
void PutGeneration(TempDir& tmp, ObjectStore* store, std::string* key, std::string* bytes,
                   const std::string& repo = "models--a--b") {
  const std::string built = tmp.Sub("built-" + repo + ".mdb");
  auto w = IndexWriter::Create(built);
  ASSERT_TRUE(w.ok());
  Entry d;
  d.type = EntryType::kDirectory;
  d.mode = S_IFDIR | 0755;
  ASSERT_TRUE((*w)->Add(repo, d).ok());
  ASSERT_TRUE((*w)->Finish(IndexMeta{}).ok());
  *bytes = *ReadFile(Env::Default(), built);
  *key = IndexKey(ContentHash(*bytes));
  ASSERT_TRUE(store->Put(*key, *bytes, Later()).ok());
}

// Forwards to a store and counts the requests a reader makes.
class CountingStore final : public ObjectStore {
 public:
  explicit CountingStore(ObjectStore* target) : target_(target) {}
  int lists = 0, heads = 0, gets = 0;
  bool hide_etags = false;  // list as a store without etags would

  absl::Status GetRange(absl::string_view k, uint64_t o, uint64_t n, std::string* out,
                        absl::Time d) override {
    ++gets;
    return target_->GetRange(k, o, n, out, d);
  }
  absl::StatusOr<ObjectInfo> Head(absl::string_view k, absl::Time d) override {
    ++heads;
    return target_->Head(k, d);
  }
  absl::Status Put(absl::string_view k, absl::string_view data, absl::Time d) override {
    return target_->Put(k, data, d);
  }
  absl::Status PutFile(absl::string_view k, const std::string& path, absl::Time d) override {
    return target_->PutFile(k, path, d);
  }
  absl::Status PutIfAbsent(absl::string_view k, absl::string_view data, absl::Time d) override {
    return target_->PutIfAbsent(k, data, d);
  }
  absl::StatusOr<std::vector<ObjectInfo>> List(absl::string_view prefix, absl::Time d) override {
    ++lists;
    auto listed = target_->List(prefix, d);
    if (listed.ok() && hide_etags) {
      for (ObjectInfo& o : *listed) o.etag.clear();
    }
    return listed;
  }
  std::string Describe() const override { return target_->Describe(); }

 private:
  ObjectStore* const target_;
};

// Records the (offset, size) of every write, from any thread.
class WriteRecordingEnv : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  absl::StatusOr<size_t> Pwrite(int fd, const void* b, size_t n, uint64_t o) override {
    {
      absl::MutexLock lock(&mu);
      writes.emplace_back(o, n);
    }
    return EnvWrapper::Pwrite(fd, b, n, o);
  }
  absl::Mutex mu;
  std::vector<std::pair<uint64_t, uint64_t>> writes ABSL_GUARDED_BY(mu);
};

// The bytes of the file FetchGeneration made of `head` in `dir`; "" (and a failure) if it failed.
std::string FetchedBytes(ObjectStore* store, const HeadRecord& head, const std::string& dir) {
  absl::StatusOr<std::string> path = FetchGeneration(store, head, dir, Env::Default(), Later());
  EXPECT_TRUE(path.ok()) << path.status();
  return path.ok() ? *ReadFile(Env::Default(), *path) : "";
}

// Every process of a node asks for the latest head once HFSHIM_REFRESH has passed: a listing
// and one read, no HEAD in between (the listing gives the size).
TEST(GenerationTest, FindingTheLatestHeadTakesTwoRequests) {
  TempDir tmp;
  auto store = NewLocalStore(tmp.Sub("store"));
  ASSERT_TRUE(store->EnsureCreated(Later()).ok());
  std::string key, bytes;
  PutGeneration(tmp, store.get(), &key, &bytes);
  for (uint64_t n : {1, 2}) {
    ASSERT_TRUE(store->PutIfAbsent(HeadKey(n), EncodeHead({n, key, 0, 1}), Later()).ok());
  }
  CountingStore counting(store.get());
  auto head = FindLatestHead(&counting, Later());
  ASSERT_TRUE(head.ok() && head->has_value()) << head.status();
  EXPECT_EQ((*head)->sequence, 2u);
  EXPECT_EQ(counting.lists, 1);
  EXPECT_EQ(counting.heads, 0);
  EXPECT_EQ(counting.gets, 1);
}

// hfshim-warm's check and a process's: the head is read once, then taken from the node's note
// while the listing shows it unchanged; a new head is read.
TEST(GenerationTest, CheckingTheNewestHeadReadsItOnceThenTakesItFromTheNote) {
  TempDir tmp;
  auto store = NewLocalStore(tmp.Sub("store"));
  ASSERT_TRUE(store->EnsureCreated(Later()).ok());
  CountingStore counting(store.get());
  const std::string node = tmp.Sub("cache/index");
  ASSERT_TRUE(MakeDirs(Env::Default(), node).ok());
  auto empty = CheckNewestHead(&counting, node, Env::Default(), Later());
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_FALSE(empty->listed.has_value() || empty->head.has_value());
  std::string key, bytes;
  PutGeneration(tmp, store.get(), &key, &bytes);
  for (uint64_t n : {1, 2}) {
    ASSERT_TRUE(store->PutIfAbsent(HeadKey(n), EncodeHead({n, key, 0, 1}), Later()).ok());
    for (bool noted : {false, true, true}) {
      const int gets = counting.gets;
      auto check = CheckNewestHead(&counting, node, Env::Default(), Later());
      ASSERT_TRUE(check.ok() && check->head.has_value()) << check.status();
      EXPECT_EQ(check->head->sequence, n);
      EXPECT_EQ(check->head->index_key, key);
      EXPECT_EQ(check->noted, noted);
      EXPECT_EQ(counting.gets, gets + (noted ? 0 : 1));
      NoteHeadChecked(node, *check, Env::Default());
    }
  }
}

TEST(GenerationTest, LatestHeadAndFetch) {
  TempDir tmp;
  auto store = NewLocalStore(tmp.Sub("store"));
  ASSERT_TRUE(store->EnsureCreated(Later()).ok());  // a new, empty store
  auto none = FindLatestHead(store.get(), Later());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  std::string key, bytes;
  PutGeneration(tmp, store.get(), &key, &bytes);
  for (uint64_t n : {1, 2, 10}) {
    ASSERT_TRUE(store->PutIfAbsent(HeadKey(n), EncodeHead({n, key, 0, 1}), Later()).ok());
  }
  auto head = FindLatestHead(store.get(), Later());
  ASSERT_TRUE(head.ok() && head->has_value()) << head.status();
  EXPECT_EQ((*head)->sequence, 10u);

  auto path = FetchGeneration(store.get(), **head, tmp.Sub("cache/index"), Env::Default(), Later());
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*ReadFile(Env::Default(), *path), bytes);
  // A second fetch uses the local copy even with the store gone.
  auto gone = NewLocalStore(tmp.Sub("nowhere"));
  EXPECT_TRUE(
      FetchGeneration(gone.get(), **head, tmp.Sub("cache/index"), Env::Default(), Later()).ok());
}

TEST(GenerationTest, CorruptDownloadIsDataLossAndNotKept) {
  TempDir tmp;
  auto store = NewLocalStore(tmp.Sub("store"));
  const std::string key = IndexKey(ContentHash("the real bytes"));
  ASSERT_TRUE(store->Put(key, "tampered bytes", Later()).ok());
  HeadRecord head{1, key, 0, 0};
  auto path = FetchGeneration(store.get(), head, tmp.Sub("idx"), Env::Default(), Later());
  EXPECT_TRUE(absl::IsDataLoss(path.status())) << path.status();
  auto names = Env::Default()->ListDir(tmp.Sub("idx"));
  EXPECT_TRUE(!names.ok() || names->empty());
}

// Heads published now carry the generation's size, so a node fetches it with one GET (older
// heads: a HEAD first). The download is streamed to disk; a wrong size or a store that fails
// midway leaves nothing behind.
TEST(GenerationTest, AKnownIndexSizeSavesTheHeadAndWrongSizesKeepNothing) {
  HeadRecord sized{3, IndexKey(ContentHash("x")), 5, 7, 123456};
  EXPECT_EQ(EncodeHead(sized),
            absl::StrCat("hfshim-head 1\nsequence 3\nindex ", sized.index_key,
                         "\ncreated_unix_ns 5\nentries 7\nindex_bytes 123456\n"));
  EXPECT_EQ(*DecodeHead(EncodeHead(sized)), sized);

  TempDir tmp;
  auto store = NewLocalStore(tmp.Sub("store"));
  std::string key, bytes;
  PutGeneration(tmp, store.get(), &key, &bytes);
  CountingStore counting(store.get());
  for (uint64_t wrong : {bytes.size() - 1, bytes.size() + 1}) {
    const std::string dir = tmp.Sub("wrong-" + std::to_string(wrong));
    auto path = FetchGeneration(&counting, {1, key, 0, 1, wrong}, dir, Env::Default(), Later());
    EXPECT_FALSE(path.ok());
    auto names = Env::Default()->ListDir(dir);
    EXPECT_TRUE(!names.ok() || names->empty()) << wrong;
  }
  counting.heads = counting.gets = 0;
  EXPECT_EQ(FetchedBytes(&counting, {1, key, 0, 1, bytes.size()}, tmp.Sub("a")), bytes);
  EXPECT_EQ(counting.heads, 0);
  EXPECT_EQ(counting.gets, 1);
  EXPECT_EQ(FetchedBytes(&counting, {1, key, 0, 1, 0}, tmp.Sub("b")), bytes);
  EXPECT_EQ(counting.heads, 1);
}

// A large generation (a dataset of many files) comes down in parallel ranged GETs, each written
// at its offset, and the file holds exactly its bytes.
TEST(GenerationTest, ALargeGenerationIsFetchedInParallelParts) {
  TempDir tmp;
  const std::string built = tmp.Sub("big.mdb");
  auto w = IndexWriter::Create(built);
  ASSERT_TRUE(w.ok());
  Entry d;
  d.type = EntryType::kDirectory;
  d.mode = S_IFDIR | 0755;
  ASSERT_TRUE((*w)->Add("datasets--a--b", d).ok());
  Entry f;  // files with many block checksums make large records
  f.type = EntryType::kFile;
  f.mode = S_IFREG | 0644;
  f.block_size = 4096;
  f.size = 512 * 4096;
  f.block_checksums.assign(512, 7);
  f.location.object_key = "blobs/x";
  f.location.length = f.size;
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE((*w)->Add(absl::StrCat("datasets--a--b/", 1000000 + i), f).ok());
  }
  ASSERT_TRUE((*w)->Finish(IndexMeta{}).ok());
  const std::string bytes = *ReadFile(Env::Default(), built);
  ASSERT_GT(bytes.size(), 16u << 20) << bytes.size() << " is not large enough for parallel parts";
  auto store = NewLocalStore(tmp.Sub("store"));
  const std::string key = IndexKey(ContentHash(bytes));
  ASSERT_TRUE(store->Put(key, bytes, Later()).ok());
  CountingStore counting(store.get());
  WriteRecordingEnv env(Env::Default());
  absl::StatusOr<std::string> fetched =
      FetchGeneration(&counting, {1, key, 0, 1, bytes.size()}, tmp.Sub("idx"), &env, Later());
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(*ReadFile(Env::Default(), *fetched), bytes);
  EXPECT_GE(counting.gets, 2);
  EXPECT_LE(counting.gets, 4);
  // The file is written in whole 2 MiB-aligned chunks (huge-page folios), the last one to its end.
  constexpr uint64_t kChunk = 2 << 20;
  absl::MutexLock lock(&env.mu);
  int chunks = 0;
  for (const auto& [offset, n] : env.writes) {
    if (offset + n <= 4096) continue;  // small files beside the index (notes)
    EXPECT_EQ(offset % kChunk, 0u) << offset << "+" << n;
    EXPECT_TRUE(n == kChunk || offset + n == bytes.size()) << offset << "+" << n;
    ++chunks;
  }
  EXPECT_EQ(chunks, (bytes.size() + kChunk - 1) / kChunk);
}

// A process that cannot map the index (an address-space limit, as under `ulimit -v` in batch
// jobs) neither deletes the node's verified copy nor blames the store: it says what to raise.
TEST(GenerationTest, ProcessThatCannotMapTheIndexKeepsTheCopyAndNamesTheLimit) {
  TempDir tmp;
  auto store = NewLocalStore(tmp.Sub("store"));
  std::string key, bytes;
  PutGeneration(tmp, store.get(), &key, &bytes);
  const HeadRecord head{1, key, 0, 1};
  auto path = FetchGeneration(store.get(), head, tmp.Sub("idx"), Env::Default(), Later());
  ASSERT_TRUE(path.ok()) << path.status();

  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // No room for another mapping: LMDB maps the whole file, and not a byte more is left.
    if (!LimitAddressSpaceToCurrentPlus(0)) _exit(3);
    auto again = FetchGeneration(store.get(), head, tmp.Sub("idx"), Env::Default(), Later());
    const std::string report =
        absl::StrCat(static_cast<int>(again.status().code()), " ", again.status().message());
    (void)!write(out[1], report.data(), report.size());
    _exit(0);
  }
  close(out[1]);
  std::string report;
  char buf[512];
  for (ssize_t n; (n = read(out[0], buf, sizeof(buf))) > 0;) report.append(buf, n);
  close(out[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(report.substr(0, report.find(' ')),
            std::to_string(static_cast<int>(absl::StatusCode::kFailedPrecondition)))
      << report;
  EXPECT_NE(report.find("ulimit -v"), std::string::npos) << report;
  struct stat st;
  EXPECT_EQ(stat(path->c_str(), &st), 0) << "the verified copy was deleted";
}

// The generations of a store as the processes of one node see them: a file:// store holding
// generation 1, the node's index dir, and sources made as each new process makes its own.
class StoreGenerationsTest : public ::testing::Test {
 protected:
  StoreGenerationsTest() : store_(NewLocalStore(tmp_.Sub("store"))) { Publish(1); }

  // Publishes a new one-repo generation as head `n`.
  void Publish(uint64_t n) {
    std::string key, bytes;
    PutGeneration(tmp_, store_.get(), &key, &bytes, "models--gen--" + std::to_string(n));
    ASSERT_TRUE(store_->PutIfAbsent(HeadKey(n), EncodeHead({n, key, 0, 1}), Later()).ok());
  }
  // The source of a process started now with HFSHIM_REFRESH = `refresh_seconds`.
  std::unique_ptr<GenerationSource> NewProcess(double refresh_seconds) {
    Config config;
    config.refresh_seconds = refresh_seconds;
    return MakeStoreGenerationSource(store_.get(), config, index_dir_);
  }
  // What a new process answers from first.
  GenerationFile FirstAnswer(double refresh_seconds) {
    absl::StatusOr<GenerationFile> g = NewProcess(refresh_seconds)->Latest();
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? *g : GenerationFile{};
  }
  // Sets the time the node last found its generation current in the store to `ago` ago: the
  // node's records of its last generation ("last", "last-<store>").
  void CheckedAgo(absl::Duration ago) {
    const timespec t = absl::ToTimespec(absl::Now() - ago);
    const timespec times[2] = {t, t};
    int records = 0;
    for (const std::string& name : {std::string("last"), LastRecordOf(*store_)}) {
      ASSERT_EQ(utimensat(AT_FDCWD, (index_dir_ + "/" + name).c_str(), times, 0), 0) << name;
      ++records;
    }
    ASSERT_EQ(records, 2);
  }
  // The name of the node's record of the last generation fetched from `store` (FORMAT.md).
  std::string LastRecordOf(const ObjectStore& store) {
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx",
                  static_cast<unsigned long long>(PathHash(store.Identity())));
    return std::string("last-") + hex;
  }

  TempDir tmp_;
  std::unique_ptr<ObjectStore> store_;
  const std::string index_dir_ = tmp_.Sub("cache/index");
};

// Every new process used to ask the store for its head before its first answer (a LIST, a HEAD
// and a GET: ~6 ms against s3rver on loopback, three round trips to a remote bucket). A process
// started less than HFSHIM_REFRESH seconds after another process of the node asked now answers
// from the generation found then; a generation pushed at T is still seen by T + refresh.
TEST_F(StoreGenerationsTest, ANewProcessTrustsTheNodesRecentCheckForTheRefreshInterval) {
  GenerationFile g = FirstAnswer(30);
  EXPECT_EQ(g.sequence, 1u);
  EXPECT_EQ(g.checked_ago, absl::ZeroDuration());
  Publish(2);
  // Within the interval: the node's check stands, and says how old it is.
  g = FirstAnswer(30);
  EXPECT_EQ(g.sequence, 1u);
  EXPECT_GT(g.checked_ago, absl::ZeroDuration());
  EXPECT_LT(g.checked_ago, absl::Seconds(30));
  // Older than the interval, or from the future (a clock set back): the store is asked, and
  // that check stands for the next process.
  uint64_t newest = 2;
  for (absl::Duration ago : {absl::Seconds(31), absl::Seconds(-120)}) {
    CheckedAgo(ago);
    g = FirstAnswer(30);
    EXPECT_EQ(g.sequence, newest);
    EXPECT_EQ(g.checked_ago, absl::ZeroDuration());
    Publish(++newest);
    EXPECT_EQ(FirstAnswer(30).sequence, newest - 1);
  }
  // hfshim-push forgets the node's check after publishing: the next process asks the store.
  Publish(++newest);
  ForgetGenerationCheck(index_dir_, *store_, Env::Default());
  EXPECT_EQ(FirstAnswer(30).sequence, newest);
  // HFSHIM_REFRESH=0 asks on every check.
  Publish(++newest);
  EXPECT_EQ(FirstAnswer(0).sequence, newest);
}

// A node whose processes switch to another store (HFSHIM_STORE changed, the node cache kept)
// never answers from the other store's generation: not while the last check is recent, not when
// the new store is unreachable. Each store keeps its own record.
TEST_F(StoreGenerationsTest, AnotherStoreNeverAnswersWithThisStoresGeneration) {
  const GenerationFile first = FirstAnswer(30);
  auto other = NewLocalStore(tmp_.Sub("other"));
  std::string key, bytes;
  PutGeneration(tmp_, other.get(), &key, &bytes, "models--other--1");
  ASSERT_TRUE(other->PutIfAbsent(HeadKey(1), EncodeHead({1, key, 0, 1}), Later()).ok());
  Config config;
  config.refresh_seconds = 30;
  absl::StatusOr<GenerationFile> g =
      MakeStoreGenerationSource(other.get(), config, index_dir_)->Latest();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_NE(g->path, first.path) << "the other store's generation, not the node's last";
  EXPECT_TRUE((*IndexReader::Open(g->path))->Lookup("models--other--1").ok());
  // Back to the first store within its refresh: its own record, not the other's.
  EXPECT_EQ(FirstAnswer(30).path, first.path);
  // A third store never read from, unreachable: nothing, rather than another store's tree.
  auto missing = NewLocalStore(tmp_.Sub("never-there"));
  EXPECT_FALSE(MakeStoreGenerationSource(missing.get(), config, index_dir_)->Latest().ok());
  // The other store unreachable (its directory gone) and asked on every check: the node serves
  // that store's own last generation.
  std::filesystem::remove_all(tmp_.Sub("other"));
  config.refresh_seconds = 0;
  absl::StatusOr<GenerationFile> offline =
      MakeStoreGenerationSource(other.get(), config, index_dir_)->Latest();
  ASSERT_TRUE(offline.ok()) << offline.status();
  EXPECT_EQ(offline->path, g->path);
}

// A process that trusted a check made `a` seconds earlier checks again `refresh - a` seconds
// later, not `refresh`: the node-wide bound holds for its own opens too.
TEST_F(StoreGenerationsTest, TrustingAnOlderCheckBringsTheNextCheckForward) {
  EXPECT_EQ(FirstAnswer(2).sequence, 1u);
  Publish(2);
  CheckedAgo(absl::Milliseconds(1500));
  auto source = NewProcess(2);
  Generations generations(source.get(), absl::Seconds(2));
  ASSERT_NE(generations.Current(), nullptr);
  EXPECT_EQ(generations.Current()->file.sequence, 1u);
  absl::SleepFor(absl::Milliseconds(700));
  ASSERT_NE(generations.Current(), nullptr);
  EXPECT_EQ(generations.Current()->file.sequence, 2u);
}

// The node's recent answer names a copy damaged since (truncated by a full disk, say): the
// process asks the store at once, which fetches the copy again, instead of serving nothing until
// the record is HFSHIM_REFRESH old.
TEST_F(StoreGenerationsTest, ADamagedCopyOfTheRecentGenerationIsFetchedAgain) {
  const GenerationFile checked = FirstAnswer(30);
  const std::string good = *ReadFile(Env::Default(), checked.path);
  ASSERT_EQ(truncate(checked.path.c_str(), 100), 0);
  auto source = NewProcess(30);
  Generations generations(source.get(), absl::Seconds(30));
  const Generation* g = generations.Current();
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->file.sequence, 1u);
  EXPECT_TRUE(g->reader->Lookup("models--gen--1").ok());
  EXPECT_EQ(*ReadFile(Env::Default(), checked.path), good);
}

// A check whose listing shows the head the node read last, with the same etag, takes that one
// request: the head is not read again. A head rewritten under the same key (a store emptied and
// pushed again) has another etag and is read; a listing without etags always reads the head.
TEST_F(StoreGenerationsTest, AnUnchangedHeadIsListedButNotReadAgain) {
  CountingStore counting(store_.get());
  Config config;
  config.refresh_seconds = 0;  // every Latest() asks the store
  auto source = MakeStoreGenerationSource(&counting, config, index_dir_);
  ASSERT_EQ(source->Latest()->sequence, 1u);
  EXPECT_EQ(counting.lists, 1);
  const int gets = counting.gets, heads = counting.heads;
  EXPECT_GE(gets, 2);  // the head, then the generation it names
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<GenerationFile> again =
        MakeStoreGenerationSource(&counting, config, index_dir_)->Latest();
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->sequence, 1u);
    EXPECT_EQ(again->checked_ago, absl::ZeroDuration());
  }
  EXPECT_EQ(counting.lists, 4);
  EXPECT_EQ(counting.gets, gets) << "an unchanged head was read again";
  EXPECT_EQ(counting.heads, heads);

  // The store is emptied and pushed again: heads/1 now names another generation.
  std::string key, bytes;
  PutGeneration(tmp_, store_.get(), &key, &bytes, "models--repushed--1");
  ASSERT_EQ(unlink(tmp_.Sub("store/" + HeadKey(1)).c_str()), 0);
  // (12 entries: a byte longer, so the etag differs even if the inode and the clock tick do not)
  ASSERT_TRUE(store_->PutIfAbsent(HeadKey(1), EncodeHead({1, key, 0, 12}), Later()).ok());
  absl::StatusOr<GenerationFile> repushed = source->Latest();
  ASSERT_TRUE(repushed.ok()) << repushed.status();
  EXPECT_EQ(*ReadFile(Env::Default(), repushed->path), bytes);
  EXPECT_GT(counting.gets, gets);

  // A store whose listing has no etags: every check reads the head.
  counting.hide_etags = true;
  for (int i = 0; i < 2; ++i) {
    const int before = counting.gets;
    ASSERT_TRUE(source->Latest().ok());
    EXPECT_EQ(counting.gets, before + 1);
  }
}

// The note names the head it was read from: one for another sequence, or a damaged one, is
// not trusted.
TEST_F(StoreGenerationsTest, TheNoteOfTheLastHeadReadMustMatchTheListing) {
  ASSERT_EQ(FirstAnswer(0).sequence, 1u);
  auto listed = ListNewestHead(store_.get(), Later());
  ASSERT_TRUE(listed.ok() && listed->has_value()) << listed.status();
  ASSERT_FALSE((*listed)->info.etag.empty());
  std::optional<HeadRecord> noted = HeadReadBefore(index_dir_, **listed, Env::Default());
  ASSERT_TRUE(noted.has_value());
  EXPECT_EQ(noted->sequence, 1u);
  ListedHead other = **listed;
  other.info.etag += "x";
  EXPECT_FALSE(HeadReadBefore(index_dir_, other, Env::Default()).has_value());
  other = **listed;
  other.sequence = 2;
  EXPECT_FALSE(HeadReadBefore(index_dir_, other, Env::Default()).has_value());
  for (const char* damaged : {"", "1 index/x.mdb\n", "1\n", "x index/y.mdb etag\n"}) {
    ASSERT_TRUE(WriteFileAtomic(Env::Default(), index_dir_ + "/last-head", damaged).ok());
    EXPECT_FALSE(HeadReadBefore(index_dir_, **listed, Env::Default()).has_value()) << damaged;
  }
  // An etag the one-line note cannot hold is not noted (and an old note is dropped).
  ListedHead spaced = **listed;
  spaced.info.etag = "a b";
  RememberHeadRead(index_dir_, spaced, *noted, Env::Default());
  EXPECT_FALSE(HeadReadBefore(index_dir_, spaced, Env::Default()).has_value());
  EXPECT_FALSE(HeadReadBefore(index_dir_, **listed, Env::Default()).has_value());
}

}  // namespace
}  // namespace hfshim
