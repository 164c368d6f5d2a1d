// Index costs on generations of realistic hub-cache shape: lookup, resolve through a snapshot
// symlink, and directory listing, at 10k and 1M entries. Target: lookup <= 1 us at 1M entries.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "core/index/index_reader.h"
#include "core/index/index_writer.h"

namespace hfshim {
namespace {

constexpr char kRev[] = "0123456789abcdef0123456789abcdef01234567";

struct Generation {
  std::unique_ptr<IndexReader> reader;
  std::vector<std::string> files;  // snapshot paths
  std::string big_dir;
  double file_mb = 0;  // size of the generation file
};

Entry Dir() {
  Entry e;
  e.type = EntryType::kDirectory;
  e.mode = S_IFDIR | 0755;
  return e;
}

// A dataset repo with `n` files in shards of 10,000 (blobs + snapshot links), built once.
const Generation& Get(int n) {
  static std::map<int, Generation>* gens = new std::map<int, Generation>();
  auto it = gens->find(n);
  if (it != gens->end()) return it->second;
  Generation& g = (*gens)[n];
  const std::string path = absl::StrCat("/tmp/hfshim-index-bench-", n, "-", getpid(), ".mdb");
  auto w = *IndexWriter::Create(path);
  const std::string repo = "datasets--org--images";
  const std::string snap = absl::StrCat(repo, "/snapshots/", kRev);
  for (const std::string& d : {repo, repo + "/blobs", repo + "/snapshots", snap, snap + "/train"}) {
    (void)w->Add(d, Dir());
  }
  const int files = n / 2;  // each file is a blob and a snapshot link
  for (int i = 0; i < files; ++i) {
    const std::string blob = absl::StrFormat("%064x", static_cast<uint64_t>(i) * 2654435761u);
    Entry f;
    f.type = EntryType::kFile;
    f.mode = S_IFREG | 0644;
    f.size = 15000;
    f.location = {"packs/0123456789abcdef0123456789abcdef", static_cast<uint64_t>(i) * 15000,
                  15000};
    f.block_size = 4 << 20;
    f.block_checksums = {static_cast<uint64_t>(i)};
    (void)w->Add(absl::StrCat(repo, "/blobs/", blob), f);
    const std::string shard = absl::StrFormat("%s/train/%04d", snap, i / 10000);
    if (i % 10000 == 0) (void)w->Add(shard, Dir());
    Entry l;
    l.type = EntryType::kSymlink;
    l.mode = S_IFLNK | 0777;
    l.symlink_target = "../../../../blobs/" + blob;
    l.size = l.symlink_target.size();
    const std::string file = absl::StrFormat("%s/%08d.jpg", shard, i);
    (void)w->Add(file, l);
    g.files.push_back(file);
  }
  (void)w->Finish(IndexMeta{});
  g.reader = *IndexReader::Open(path);
  struct stat st;
  if (stat(path.c_str(), &st) == 0) g.file_mb = static_cast<double>(st.st_size) / 1e6;
  unlink(path.c_str());  // the mapping stays valid
  g.big_dir = absl::StrFormat("%s/train/%04d", snap, 0);
  return g;
}

void BM_Lookup(benchmark::State& state) {
  const Generation& g = Get(static_cast<int>(state.range(0)));
  std::mt19937 rng(1);
  size_t i = 0;
  for (auto _ : state) {
    auto e = g.reader->Lookup(g.files[(i++ * 7919) % g.files.size()]);
    benchmark::DoNotOptimize(e);
  }
  state.counters["file_MB"] = g.file_mb;
}
BENCHMARK(BM_Lookup)->Arg(10000)->Arg(1000000);

void BM_ResolveSnapshotLink(benchmark::State& state) {
  const Generation& g = Get(static_cast<int>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    auto r = g.reader->Resolve(g.files[(i++ * 7919) % g.files.size()], true);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ResolveSnapshotLink)->Arg(10000)->Arg(1000000);

void BM_ListDirectory(benchmark::State& state) {
  const Generation& g = Get(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    std::string after;
    size_t n = 0;
    while (true) {
      auto page = g.reader->List(g.big_dir, after, 512);
      if (!page.ok() || page->empty()) break;
      n += page->size();
      after = page->back().name;
    }
    benchmark::DoNotOptimize(n);
    state.counters["entries"] = static_cast<double>(n);
  }
}
BENCHMARK(BM_ListDirectory)->Arg(10000)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace hfshim
