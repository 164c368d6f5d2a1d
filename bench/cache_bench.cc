// Node cache hits: what a read of cached content costs beyond the kernel's pread.
//   BM_CacheHitBlockRead/0  pread of 64 KiB at random offsets of a plain file (the floor)
//   BM_CacheHitBlockRead/1  the same reads of a lazily filled cache file, each preceded by the
//                           presence check the shim makes on a lazy fd (LazyContent::Present)
//   BM_MaterializeHit       ContentCache::Materialize of a cached small file (the complete-file
//                           path: one stat)
// The content is pushed into a file:// store in a temp dir first (16 MiB in 4 MiB blocks).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "core/cache/content_cache.h"
#include "core/cache/lazy_content.h"
#include "core/config/config.h"
#include "core/env/env.h"
#include "core/index/index_reader.h"
#include "core/push/publisher.h"
#include "core/push/pusher.h"
#include "core/store/local_store.h"

namespace hfshim {
namespace {

constexpr uint64_t kBig = 16 << 20;
constexpr size_t kRead = 64 << 10;

struct World {
  std::string dir;
  std::unique_ptr<ObjectStore> store;
  std::unique_ptr<IndexReader> index;
  std::unique_ptr<ContentCache> cache;
  std::shared_ptr<LazyContent> lazy;
  std::string plain_path;
  Entry small;

  World() {
    char tmpl[] = "/tmp/hfshim-cache-bench-XXXXXX";
    dir = mkdtemp(tmpl);
    const std::string snap = dir + "/hub/models--b--m/snapshots/r";
    std::filesystem::create_directories(snap);
    std::string big(kBig, '\0');
    std::mt19937_64 rng(1);
    for (char& c : big) c = static_cast<char>(rng());
    plain_path = snap + "/big.bin";
    std::ofstream(plain_path, std::ios::binary) << big;
    std::ofstream(snap + "/config.json") << "{\"model_type\": \"bench\"}\n";
    store = NewLocalStore(dir + "/store");
    PushOptions o;
    o.hub_dir = dir + "/hub";
    o.work_dir = dir + "/work";
    if (!Push(store.get(), Env::Default(), o).ok()) abort();
    auto gen = LoadLatestGeneration(store.get(), Env::Default(), dir + "/work",
                                    absl::Now() + absl::Seconds(60));
    if (!gen.ok()) abort();
    index = std::move(gen->reader);
    Config config;
    config.cache_dirs = {dir + "/cache"};
    config.block_size_bytes = 4 << 20;
    config.cache_size_bytes = 1ull << 40;
    config.threads = 4;
    cache = *ContentCache::Create(config, store.get(), Env::Default());
    lazy = *cache->OpenLazy(*index->Lookup("models--b--m/snapshots/r/big.bin"),
                            absl::Now() + absl::Seconds(60));
    // Present but not promoted: the last block is left out, so the fd stays lazy.
    if (!lazy->Ensure(0, kBig - (4 << 20), absl::Now() + absl::Seconds(60)).ok()) abort();
    small = *index->Lookup("models--b--m/snapshots/r/config.json");
    if (!cache->Materialize(small, *index, absl::Now() + absl::Seconds(60)).ok()) abort();
  }
  ~World() { std::filesystem::remove_all(dir); }
};

World& TheWorld() {
  static World* w = new World();
  return *w;
}

void BM_CacheHitBlockRead(benchmark::State& state) {
  World& w = TheWorld();
  const bool lazy = state.range(0) != 0;
  const int fd = open((lazy ? w.lazy->OpenPath() : w.plain_path).c_str(), O_RDONLY);
  static char buf[kRead];
  std::mt19937_64 rng(7);
  const uint64_t span = kBig - (4 << 20) - kRead;  // the present blocks
  for (auto _ : state) {
    const uint64_t off = rng() % span;
    if (lazy && !w.lazy->Present(off, kRead)) state.SkipWithError("block missing");
    benchmark::DoNotOptimize(pread(fd, buf, kRead, static_cast<off_t>(off)));
  }
  close(fd);
  state.SetBytesProcessed(state.iterations() * kRead);
  state.SetLabel(lazy ? "lazy cache file + presence check" : "plain file");
}
BENCHMARK(BM_CacheHitBlockRead)->Arg(0)->Arg(1);

void BM_MaterializeHit(benchmark::State& state) {
  World& w = TheWorld();
  const absl::Time deadline = absl::Now() + absl::Hours(1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.cache->Materialize(w.small, *w.index, deadline));
  }
}
BENCHMARK(BM_MaterializeHit);

}  // namespace
}  // namespace hfshim
