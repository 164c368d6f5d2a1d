#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/posix_error.h"
#include "core/env/file_util.h"
#include "core/index/generation.h"
#include "core/index/index_reader.h"
#include "core/push/catalog.h"
#include "core/push/hub_scanner.h"
#include "core/push/pack_writer.h"
#include "core/push/publisher.h"
#include "core/push/pusher.h"
#include "core/push/repo_id.h"
#include "core/store/local_store.h"
#include "gtest/gtest.h"
#include "tests/testing/fault_env.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

absl::Time Later() { return absl::Now() + absl::Seconds(60); }

// Runs scripts/gen_hub_cache.py into `dir`.
void Generate(const std::string& dir, int files, int large_mb, int seed = 1) {
  const std::string cmd =
      absl::StrCat("/usr/bin/python3 ", HFSHIM_SOURCE_DIR, "/scripts/gen_hub_cache.py '", dir,
                   "' --files ", files, " --large-mb ", large_mb, " --seed ", seed);
  ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
}

class PushTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = NewLocalStore(tmp_.Sub("store")); }

  PushOptions Options(const std::string& hub) {
    PushOptions o;
    o.hub_dir = hub;
    o.block_size = 1 << 20;
    o.pack_threshold = 256 << 10;
    o.pack_target = 2 << 20;
    o.threads = 4;
    o.work_dir = tmp_.Sub("work");
    return o;
  }
  absl::StatusOr<PushSummary> PushHub(const std::string& hub, Env* env = Env::Default()) {
    return Push(store_.get(), env, Options(hub));
  }
  std::unique_ptr<IndexReader> Latest() {
    auto g = LoadLatestGeneration(store_.get(), Env::Default(), tmp_.Sub("read"), Later());
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? std::move(g->reader) : nullptr;
  }

  // Reads every file of `hub` back through the index and the store and compares everything
  // the tree holds: type, bytes, mode, mtime, symlink target; and no extra entries.
  void ExpectSameTree(const std::string& hub, const IndexReader& index) {
    auto repos = ScanHubCache(Env::Default(), hub, {});
    ASSERT_TRUE(repos.ok()) << repos.status();
    size_t n = 0;
    for (const ScannedRepo& r : *repos) {
      for (const ScannedEntry& e : r.entries) {
        ++n;
        auto got = index.Lookup(e.rel_path);
        ASSERT_TRUE(got.ok()) << e.rel_path;
        EXPECT_EQ(got->type, e.entry.type) << e.rel_path;
        EXPECT_EQ(got->mode, e.entry.mode) << e.rel_path;
        EXPECT_EQ(got->mtime_ns, e.entry.mtime_ns) << e.rel_path;
        EXPECT_EQ(got->symlink_target, e.entry.symlink_target) << e.rel_path;
        if (e.entry.type != EntryType::kFile) continue;
        std::string bytes;
        if (got->size > 0) {
          ASSERT_TRUE(store_
                          ->GetRange(got->location.object_key, got->location.offset, got->size,
                                     &bytes, Later())
                          .ok())
              << e.rel_path;
        }
        EXPECT_TRUE(bytes == *ReadFile(Env::Default(), e.local_path)) << e.rel_path;
        for (size_t b = 0; b < got->block_checksums.size(); ++b) {
          EXPECT_EQ(got->block_checksums[b], BlockChecksum(absl::string_view(bytes).substr(
                                                 b * got->block_size, got->block_size)));
        }
      }
    }
    size_t in_index = 0;
    ASSERT_TRUE(index.ForEach([&](absl::string_view, const Entry&) { return ++in_index; }).ok());
    EXPECT_EQ(in_index, n);
  }

  TempDir tmp_;
  std::unique_ptr<ObjectStore> store_;
};

TEST(PackFormatTest, HeaderIsPinned) {
  EXPECT_EQ(absl::BytesToHexString(PackHeader()), "4846504b010000000000000000000000");
}

TEST(RepoIdTest, MapsBothWays) {
  EXPECT_EQ(*RepoIdForDir("models--org--name"), "org/name");
  EXPECT_EQ(*RepoIdForDir("models--solo"), "solo");
  EXPECT_EQ(*RepoIdForDir("datasets--org--d"), "datasets/org/d");
  EXPECT_EQ(*RepoIdForDir("spaces--o--s"), "spaces/o/s");
  EXPECT_FALSE(RepoIdForDir(".locks").has_value());
  EXPECT_EQ(*DirForRepoId("org/name"), "models--org--name");
  EXPECT_EQ(*DirForRepoId("org/name@main"), "models--org--name");
  EXPECT_EQ(*DirForRepoId("datasets/org/d"), "datasets--org--d");
  EXPECT_EQ(*DirForRepoId("models--org--name"), "models--org--name");
  EXPECT_FALSE(DirForRepoId("a/b/c/d").has_value());
  EXPECT_FALSE(DirForRepoId("../x").has_value());
}

TEST_F(PushTest, ReproducesTheTreeExactly) {
  Generate(tmp_.Sub("hub"), 3000, 3);
  auto s = PushHub(tmp_.Sub("hub"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->repos.size(), 3u);
  EXPECT_EQ(s->sequence, 1u);
  auto index = Latest();
  ASSERT_NE(index, nullptr);
  ExpectSameTree(tmp_.Sub("hub"), *index);
  // The head records the generation's entry count and size.
  auto head = FindLatestHead(store_.get(), Later());
  ASSERT_TRUE(head.ok() && head->has_value()) << head.status();
  EXPECT_EQ((*head)->entry_count, index->meta().entry_count);
  EXPECT_GT((*head)->entry_count, 3000u);
  auto object = store_->Head((*head)->index_key, Later());
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ((*head)->index_bytes, object->size);
  // Refs, including refs/pr/1, and both revisions are there.
  auto repos = DescribeRepos(*index, store_.get(), Later());
  ASSERT_TRUE(repos.ok());
  const RepoSummary* model = nullptr;
  for (const auto& r : *repos) {
    if (r.id == "hfshim/tiny-model") model = &r;
  }
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->revisions.size(), 2u);
  EXPECT_EQ(model->refs.count("pr/1"), 1u);
  EXPECT_EQ(model->refs.at("main").size(), 40u);
}

TEST_F(PushTest, SharedBlobsAreStoredOnceAndSmallFilesArePacked) {
  Generate(tmp_.Sub("hub"), 500, 2);
  // The same large file in a second repo: stored once.
  ASSERT_EQ(system(absl::StrCat("cp -a '", tmp_.Sub("hub/models--hfshim--tiny-model"), "' '",
                                tmp_.Sub("hub/models--copy--model"), "'")
                       .c_str()),
            0);
  auto s = PushHub(tmp_.Sub("hub"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->bytes_deduplicated, 2u << 20);
  auto data = store_->List("data/", Later());
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->size(), 3u);  // model.safetensors, extra layer.bin, tokenizer.json (300 KB)
  auto packs = store_->List("packs/", Later());
  ASSERT_TRUE(packs.ok());
  EXPECT_GE(packs->size(), 1u);
  EXPECT_LE(packs->size(), 4u);  // ~500 small files in 2 MiB packs
}

// Blobs are named by their hash, so in their own path order a directory of the dataset would be
// spread over every pack; they are packed in the order of the snapshot paths linking to them.
TEST_F(PushTest, SmallFilesArePackedInTheOrderOfTheirSnapshotPaths) {
  Generate(tmp_.Sub("hub"), 500, 2);
  ASSERT_TRUE(PushHub(tmp_.Sub("hub")).ok());
  auto index = Latest();
  ASSERT_NE(index, nullptr);
  auto repos = ScanHubCache(Env::Default(), tmp_.Sub("hub"), {"datasets--hfshim--small"});
  ASSERT_TRUE(repos.ok()) << repos.status();
  std::map<std::string, uint64_t> last_offset;  // by pack
  std::set<std::string> seen;                   // content, by hex hash
  int packed = 0, out_of_order = 0;
  for (const ScannedEntry& e : (*repos)[0].entries) {  // in path order
    if (e.entry.type != EntryType::kSymlink || !absl::StrContains(e.rel_path, "/snapshots/")) {
      continue;
    }
    auto file = index->Lookup(e.rel_path.substr(0, e.rel_path.find('/')) + "/blobs/" +
                              e.entry.symlink_target.substr(e.entry.symlink_target.rfind('/') + 1));
    ASSERT_TRUE(file.ok()) << e.rel_path;
    const auto& at = file->location;
    // (A blob linked by two paths is placed by the first.)
    if (!absl::StartsWith(at.object_key, "packs/") ||
        !seen.insert(file->content_hash.Hex()).second) {
      continue;
    }
    ++packed;
    auto [it, first] = last_offset.try_emplace(at.object_key, at.offset);
    if (!first && at.offset < it->second) ++out_of_order;
    it->second = at.offset;
  }
  EXPECT_GT(packed, 400);
  EXPECT_EQ(out_of_order, 0);
}

TEST_F(PushTest, RepushUploadsNothingAndANewRevisionOnlyItsContent) {
  Generate(tmp_.Sub("hub"), 400, 2);
  ASSERT_TRUE(PushHub(tmp_.Sub("hub")).ok());
  auto again = PushHub(tmp_.Sub("hub"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->up_to_date);
  EXPECT_EQ(again->bytes_uploaded, 0u);
  EXPECT_EQ(again->sequence, 1u);
  // A new revision with one new file and one changed ref.
  const std::string repo = tmp_.Sub("hub/models--solo");
  const std::string rev = "1111111111111111111111111111111111111111";
  ASSERT_TRUE(MakeDirs(Env::Default(), repo + "/snapshots/" + rev).ok());
  std::ofstream(repo + "/blobs/newblob") << "brand new content";
  ASSERT_EQ(symlink("../../blobs/newblob", (repo + "/snapshots/" + rev + "/new.txt").c_str()), 0);
  std::ofstream(repo + "/refs/main", std::ios::trunc) << rev;
  auto third = PushHub(tmp_.Sub("hub"));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_FALSE(third->up_to_date);
  EXPECT_EQ(third->sequence, 2u);
  EXPECT_EQ(third->bytes_uploaded, absl::StrCat("brand new content", rev).size() + 16);
  ExpectSameTree(tmp_.Sub("hub"), *Latest());
}

TEST_F(PushTest, PushingOneRepoKeepsTheOthers) {
  Generate(tmp_.Sub("hub"), 100, 1);
  ASSERT_TRUE(PushHub(tmp_.Sub("hub")).ok());
  Generate(tmp_.Sub("hub2"), 50, 0, /*seed=*/7);
  PushOptions o = Options(tmp_.Sub("hub2"));
  o.repo_dirs = {"models--solo"};
  auto s = Push(store_.get(), Env::Default(), o);
  ASSERT_TRUE(s.ok()) << s.status();
  auto index = Latest();
  EXPECT_TRUE(index->Lookup("datasets--hfshim--small").ok());
  EXPECT_TRUE(index->Lookup("models--hfshim--tiny-model").ok());
  EXPECT_TRUE(index->Lookup("models--solo").ok());
}

TEST_F(PushTest, ConcurrentPushersBothLand) {
  Generate(tmp_.Sub("a"), 200, 0, 1);
  Generate(tmp_.Sub("b"), 200, 0, 2);
  // Rename the repos of b so the two pushers publish different repos at the same moment.
  ASSERT_EQ(system(absl::StrCat("cd '", tmp_.Sub("b"),
                                "' && mv datasets--hfshim--small "
                                "datasets--other--small && mv models--solo models--other-solo && "
                                "rm -rf models--hfshim--tiny-model")
                       .c_str()),
            0);
  pid_t kids[2];
  for (int k = 0; k < 2; ++k) {
    kids[k] = fork();
    if (kids[k] == 0) {
      auto store = NewLocalStore(tmp_.Sub("store"));
      PushOptions o = Options(tmp_.Sub(k == 0 ? "a" : "b"));
      o.work_dir = tmp_.Sub(absl::StrCat("work", k));
      _exit(Push(store.get(), Env::Default(), o).ok() ? 0 : 1);
    }
  }
  for (pid_t pid : kids) {
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  auto index = Latest();
  for (const char* repo : {"datasets--hfshim--small", "models--hfshim--tiny-model", "models--solo",
                           "datasets--other--small", "models--other-solo"}) {
    EXPECT_TRUE(index->Lookup(repo).ok()) << repo << " was lost";
  }
  EXPECT_EQ(index->meta().sequence, 2u);
}

TEST_F(PushTest, KilledPushLeavesThePreviousGenerationUsable) {
  Generate(tmp_.Sub("hub"), 300, 4);
  ASSERT_TRUE(PushHub(tmp_.Sub("hub")).ok());
  Generate(tmp_.Sub("hub2"), 300, 8, /*seed=*/3);
  for (int delay_ms : {1, 20, 60}) {
    pid_t pid = fork();
    if (pid == 0) {
      auto store = NewLocalStore(tmp_.Sub("store"));
      PushOptions o = Options(tmp_.Sub("hub2"));
      o.work_dir = tmp_.Sub("killed-work");
      (void)Push(store.get(), Env::Default(), o);
      _exit(0);
    }
    usleep(delay_ms * 1000);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    auto index = Latest();
    ASSERT_NE(index, nullptr);
    if (index->meta().sequence == 1) ExpectSameTree(tmp_.Sub("hub"), *index);
  }
}

TEST_F(PushTest, DiskFullDuringPushChangesNothing) {
  Generate(tmp_.Sub("hub"), 200, 1);
  FaultInjectingEnv env;
  env.FailWritesAfter(3, ENOSPC);
  auto s = PushHub(tmp_.Sub("hub"), &env);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(StatusToErrno(s.status()), ENOSPC) << s.status();
  auto heads = store_->List("heads/", Later());
  EXPECT_TRUE(heads.ok() && heads->empty());
}

// Each bad input is refused with the path named, and the store keeps what it had.
TEST_F(PushTest, BadInputIsRefusedClearlyAndLosesNothing) {
  Generate(tmp_.Sub("good"), 50, 0);
  ASSERT_TRUE(PushHub(tmp_.Sub("good")).ok());
  const std::vector<std::pair<std::string, std::function<void(const std::string&)>>> cases = {
      {"absolute symlink",
       [](const std::string& snap) {
         ASSERT_EQ(symlink("/etc/passwd", (snap + "/abs").c_str()), 0);
       }},
      {"leaves its repo",
       [](const std::string& snap) {
         ASSERT_EQ(symlink("../../../../etc/passwd", (snap + "/esc").c_str()), 0);
       }},
      {"fifo", [](const std::string& snap) { ASSERT_EQ(mkfifo((snap + "/f").c_str(), 0644), 0); }},
      {"not valid UTF-8",
       [](const std::string& snap) { std::ofstream(snap + "/bad\xff\xfe") << "x"; }},
  };
  for (const auto& [why, make] : cases) {
    const std::string hub = tmp_.Sub("bad");
    ASSERT_EQ(system(("rm -rf '" + hub + "'").c_str()), 0);
    Generate(hub, 20, 0);
    const std::string snap =
        hub + "/models--solo/snapshots/49f25741ff0db65a7c4290aa73f34b4d4a3644c6";
    make(snap);
    auto s = PushHub(hub);
    ASSERT_FALSE(s.ok()) << why;
    EXPECT_NE(s.status().message().find(why), absl::string_view::npos) << s.status();
    EXPECT_NE(s.status().message().find(snap), absl::string_view::npos) << s.status();
    auto index = Latest();
    EXPECT_EQ(index->meta().sequence, 1u) << why;
  }
  // An unreadable file (root ignores modes, so make it unreadable by replacing it with a
  // directory-less dangling path through a failing Env instead).
  FaultInjectingEnv env;
  env.FailOpens("/blobs/", EACCES);
  auto s = PushHub(tmp_.Sub("good"), &env);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("make the file readable"), absl::string_view::npos)
      << s.status();
  // Incomplete downloads and lock files are skipped, not refused.
  std::ofstream(tmp_.Sub("good/models--solo/blobs/abc.incomplete")) << "partial";
  std::ofstream(tmp_.Sub("good/models--solo/blobs/abc.lock")) << "";
  auto ok = PushHub(tmp_.Sub("good"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_FALSE(Latest()->Lookup("models--solo/blobs/abc.incomplete").ok());
}

TEST_F(PushTest, UnwritableStoreIsAClearError) {
  Generate(tmp_.Sub("hub"), 10, 0);
  std::ofstream(tmp_.Sub("file")) << "x";
  store_ = NewLocalStore(tmp_.Sub("file") + "/store");
  auto s = PushHub(tmp_.Sub("hub"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("HFSHIM_STORE"), absl::string_view::npos) << s.status();
  EXPECT_NE(s.status().message().find(tmp_.Sub("file")), absl::string_view::npos) << s.status();
}

TEST_F(PushTest, TenThousandFiles) {
  Generate(tmp_.Sub("hub"), 10000, 0);
  auto s = PushHub(tmp_.Sub("hub"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GE(s->entries, 10000u);
  ExpectSameTree(tmp_.Sub("hub"), *Latest());
}

}  // namespace
}  // namespace hfshim
