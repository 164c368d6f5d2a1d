// The node cache tests' fixture: a local store holding a pushed dataset of 200 small files
// (packed) and a model with a 3 MiB file in 1 MiB blocks, and a cache config with two dirs.
#ifndef HFSHIM_TESTS_CACHE_CACHE_FIXTURE_H_
#define HFSHIM_TESTS_CACHE_CACHE_FIXTURE_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/cache/content_cache.h"
#include "core/env/file_util.h"
#include "core/index/generation.h"
#include "core/index/index_reader.h"
#include "core/push/publisher.h"
#include "core/push/pusher.h"
#include "core/store/local_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {

inline absl::Time Later() { return absl::Now() + absl::Seconds(30); }

// A pushed store with one dataset of small files and one model with a large file.
class DiskCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string hub = tmp_.Sub("hub");
    const std::string ds = hub + "/datasets--o--d/snapshots/r";
    ASSERT_TRUE(MakeDirs(Env::Default(), ds).ok());
    for (int i = 0; i < 200; ++i) {
      std::string data = absl::StrCat("file ", i, " ", std::string(i * 37, 'a' + i % 26));
      files_[absl::StrCat("datasets--o--d/snapshots/r/f", 1000 + i)] = data;
      std::ofstream(absl::StrCat(ds, "/f", 1000 + i), std::ios::binary) << data;
    }
    const std::string md = hub + "/models--o--m/snapshots/r";
    ASSERT_TRUE(MakeDirs(Env::Default(), md).ok());
    std::string big(3 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
    files_["models--o--m/snapshots/r/big.bin"] = big;
    std::ofstream(md + "/big.bin", std::ios::binary) << big;
    std::ofstream(md + "/empty", std::ios::binary);
    files_["models--o--m/snapshots/r/empty"] = "";
    store_ = NewLocalStore(tmp_.Sub("store"));
    PushOptions o;
    o.hub_dir = hub;
    o.block_size = 1 << 20;
    o.pack_threshold = 64 << 10;
    o.work_dir = tmp_.Sub("work");
    ASSERT_TRUE(Push(store_.get(), Env::Default(), o).ok());
    auto gen = LoadLatestGeneration(store_.get(), Env::Default(), tmp_.Sub("work"), Later());
    ASSERT_TRUE(gen.ok());
    index_ = std::move(gen->reader);
    config_.cache_dirs = {tmp_.Sub("cache1"), tmp_.Sub("cache2")};
    config_.block_size_bytes = 1 << 20;
    config_.cache_size_bytes = 1ull << 40;
    config_.free_ratio = 0;
    config_.threads = 4;
  }
  Entry EntryOf(const std::string& path) { return *index_->Lookup(path); }

  // What the store served to several processes in total.
  struct Fetched {
    uint64_t requests = 0;
    uint64_t bytes = 0;
  };
  // Forks four processes that each materialize `entry_of(k)` (k = 0..3) at once with their own
  // cache instance over the same cache directories; returns what they fetched in total (a
  // failed process adds a huge count to both).
  template <typename EntryOfProcess>
  Fetched FetchesOfProcessesMaterializing(EntryOfProcess&& entry_of) {
    constexpr uint64_t kFailed = UINT64_MAX / 8;
    int pipes[2];
    if (pipe(pipes) != 0) return {kFailed, kFailed};
    std::vector<pid_t> kids;
    for (int k = 0; k < 4; ++k) {
      pid_t pid = fork();
      if (pid == 0) {
        auto c = ContentCache::Create(config_, store_.get(), Env::Default());
        auto p = (*c)->Materialize(entry_of(k), *index_, Later());
        (*c)->Drain();
        Fetched f{kFailed, kFailed};
        if (p.ok()) {
          f = {(*c)->stats().requests, (*c)->stats().bytes_fetched};
        } else {
          fprintf(stderr, "process %d: %s\n", k, p.status().ToString().c_str());
        }
        if (write(pipes[1], &f, sizeof(f)) != sizeof(f)) _exit(2);
        _exit(0);
      }
      kids.push_back(pid);
    }
    Fetched total;
    for (size_t k = 0; k < kids.size(); ++k) {
      Fetched f{kFailed, kFailed};
      if (read(pipes[0], &f, sizeof(f)) != static_cast<ssize_t>(sizeof(f))) f = {kFailed, kFailed};
      total.requests += f.requests;
      total.bytes += f.bytes;
    }
    for (pid_t pid : kids) waitpid(pid, nullptr, 0);
    close(pipes[0]);
    close(pipes[1]);
    return total;
  }
  std::unique_ptr<ContentCache> NewCache(Env* env = Env::Default()) {
    auto c = ContentCache::Create(config_, store_.get(), env);
    EXPECT_TRUE(c.ok()) << c.status();
    return *std::move(c);
  }

  TempDir tmp_;
  std::map<std::string, std::string> files_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<IndexReader> index_;
  Config config_;
};

}  // namespace hfshim

#endif  // HFSHIM_TESTS_CACHE_CACHE_FIXTURE_H_
