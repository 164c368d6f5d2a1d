// Virtual tree against native disk, in one run (issue #3 targets: warm stat >= 2x native, walk
// >= 2x, small-file open+read+close >= 1.0x). Run it with no arguments:
//
//   build/bench/vfs_bench [--files N] [google benchmark flags]
//
// (VFS_BENCH_LIB=/path/libhfshim.so measures another build of the shim.)
// It generates a hub cache (scripts/gen_hub_cache.py) in a temp dir, pushes it with hfshim-push
// into a file:// store there, fills the node cache with hfshim-warm --all, and re-runs itself
// with LD_PRELOAD=libhfshim.so serving that store at an empty prefix. The child measures each
// operation on the native tree (passthrough: the shim's fast rejection is included) and on the
// virtual one, every benchmark warm (one untimed pass first), then prints the virtual/native
// throughput ratio of each pair. The temp dir is removed afterwards. Ratios within one run are what
// to compare; absolute times on a shared machine are not.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"

namespace {

struct Tree {
  std::string native;              // root of the generated hub cache
  std::string prefix;              // where the shim serves the same tree
  std::vector<std::string> files;  // snapshot paths of small files, relative to the root
  std::string walk_dir;            // a repo to walk, relative to the root
  std::string missing;             // a name absent from a snapshot directory
};

Tree& T() {
  static Tree* t = new Tree;
  return *t;
}

std::string Root(bool virt) { return virt ? T().prefix : T().native; }

void LoadTree() {
  Tree& t = T();
  t.native = std::getenv("VFS_BENCH_NATIVE");
  t.prefix = std::getenv("HFSHIM_PREFIX");
  namespace fs = std::filesystem;
  for (const fs::directory_entry& e : fs::directory_iterator(t.native)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("datasets--", 0) == 0) t.walk_dir = name;
  }
  for (auto it = fs::recursive_directory_iterator(t.native + "/" + t.walk_dir + "/snapshots");
       it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_symlink() && it->is_regular_file()) {
      t.files.push_back(fs::relative(it->path(), t.native).string());
    }
  }
  if (t.files.empty()) {
    std::fprintf(stderr, "vfs_bench: no snapshot files under %s\n", t.native.c_str());
    std::exit(1);
  }
  t.missing = t.files[0] + ".absent";
}

// Every path of the file list under a root, built once (path building is not measured).
const std::vector<std::string>& Paths(bool virt) {
  static std::vector<std::string> paths[2];
  std::vector<std::string>& p = paths[virt];
  if (p.empty()) {
    for (const std::string& f : T().files) p.push_back(Root(virt) + "/" + f);
  }
  return p;
}

const char* Label(bool virt) { return virt ? "virtual" : "native"; }

// stat of one snapshot symlink (followed to its blob), the same path every time.
void BM_StatSame(benchmark::State& state) {
  const bool virt = state.range(0);
  const std::string& path = Paths(virt)[0];
  struct stat st;
  if (stat(path.c_str(), &st) != 0) state.SkipWithError("stat failed");
  for (auto _ : state) benchmark::DoNotOptimize(stat(path.c_str(), &st));
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Label(virt));
}
BENCHMARK(BM_StatSame)->Arg(0)->Arg(1);

// stat of every small file in turn (each path warm after the untimed first pass).
void BM_StatAll(benchmark::State& state) {
  const bool virt = state.range(0);
  const std::vector<std::string>& paths = Paths(virt);
  struct stat st;
  for (const std::string& p : paths) {
    if (stat(p.c_str(), &st) != 0) state.SkipWithError("stat failed");
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(stat(paths[i].c_str(), &st));
    if (++i == paths.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Label(virt));
}
BENCHMARK(BM_StatAll)->Arg(0)->Arg(1);

// stat of an absent name in a snapshot directory (ENOENT).
void BM_StatMissing(benchmark::State& state) {
  const bool virt = state.range(0);
  const std::string path = Root(virt) + "/" + T().missing;
  struct stat st;
  for (auto _ : state) benchmark::DoNotOptimize(stat(path.c_str(), &st));
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Label(virt));
}
BENCHMARK(BM_StatMissing)->Arg(0)->Arg(1);

// open + read (up to 64 KiB) + close of every small file in turn.
void BM_OpenReadClose(benchmark::State& state) {
  const bool virt = state.range(0);
  const std::vector<std::string>& paths = Paths(virt);
  static char buf[64 << 10];
  auto once = [&](const std::string& p) {
    int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    benchmark::DoNotOptimize(read(fd, buf, sizeof(buf)));
    close(fd);
    return true;
  };
  for (const std::string& p : paths) {
    if (!once(p)) state.SkipWithError("open failed");
  }
  size_t i = 0;
  for (auto _ : state) {
    once(paths[i]);
    if (++i == paths.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Label(virt));
}
BENCHMARK(BM_OpenReadClose)->Arg(0)->Arg(1);

// What os.walk does: opendir/readdir every directory of the dataset repo, recursing into
// DT_DIR entries and stat'ing DT_LNK ones (to learn whether they lead to directories).
size_t Walk(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  size_t n = 0;
  std::vector<std::string> subdirs;
  while (struct dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    ++n;
    if (e->d_type == DT_DIR) {
      subdirs.push_back(dir + "/" + e->d_name);
    } else if (e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
      struct stat st;
      benchmark::DoNotOptimize(stat((dir + "/" + e->d_name).c_str(), &st));
    }
  }
  closedir(d);
  for (const std::string& s : subdirs) n += Walk(s);
  return n;
}

void BM_Walk(benchmark::State& state) {
  const bool virt = state.range(0);
  const std::string top = Root(virt) + "/" + T().walk_dir;
  size_t entries = Walk(top);
  if (entries == 0) state.SkipWithError("walk found nothing");
  for (auto _ : state) benchmark::DoNotOptimize(entries = Walk(top));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries));
  state.counters["entries"] = static_cast<double>(entries);
  state.SetLabel(Label(virt));
}
BENCHMARK(BM_Walk)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Collects items/s per benchmark and prints virtual/native ratios at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  RatioReporter() : ConsoleReporter(OO_Tabular) {}  // no colours: the output goes into logs

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end()) continue;
      std::string name = r.run_name.function_name;
      rates_[name][r.report_label == "virtual"] = it->second.value;
    }
  }
  void PrintRatios() const {
    std::printf("\n%-18s %14s %14s %8s\n", "operation", "native/s", "virtual/s", "ratio");
    for (const auto& [name, rate] : rates_) {
      auto n = rate.find(false), v = rate.find(true);
      if (n == rate.end() || v == rate.end()) continue;
      std::printf("%-18s %14.0f %14.0f %7.2fx\n", name.c_str(), n->second, v->second,
                  v->second / n->second);
    }
  }

 private:
  std::map<std::string, std::map<bool, double>> rates_;
};

// Parent side: build the tree and the store, re-run this binary preloaded, clean up.
int Setup(int argc, char** argv) {
  int files = 2000;
  std::vector<char*> args = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--files") == 0 && i + 1 < argc) {
      files = std::atoi(argv[++i]);
    } else {
      args.push_back(argv[i]);
    }
  }
  args.push_back(nullptr);
  char tmpl[] = "/tmp/hfshim-vfs-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string tmp = tmpl;
  const std::string native = tmp + "/native";
  const std::string cmd = std::string("/usr/bin/python3 '") + HFSHIM_SOURCE_DIR +
                          "/scripts/gen_hub_cache.py' '" + native + "' --files " +
                          std::to_string(files) + " --large-mb 0 >/dev/null && '" + HFSHIM_PUSH +
                          "' --store 'file://" + tmp + "/store' '" + native + "' >/dev/null";
  int rc = std::system(cmd.c_str());
  if (rc == 0) {
    std::filesystem::create_directories(tmp + "/prefix");
    setenv("VFS_BENCH_NATIVE", native.c_str(), 1);
    setenv("HFSHIM_PREFIX", (tmp + "/prefix").c_str(), 1);
    setenv("HFSHIM_STORE", ("file://" + tmp + "/store").c_str(), 1);
    setenv("HFSHIM_CACHE_DIR", (tmp + "/cache").c_str(), 1);
    setenv("XDG_RUNTIME_DIR", tmp.c_str(), 1);
    // The node cache is filled before the measured process starts, as on a node where an
    // earlier job or hfshim-warm filled it: a fill in the measured process would leave the
    // cache's background threads there, and a multi-threaded process pays for cancellation
    // points on every libc open/read/close (~20 ns each), native calls included, which only
    // the virtual runs (after the fill) would pay.
    const std::string warm = std::string("'") + HFSHIM_WARM + "' --all >/dev/null";
    if (std::system(warm.c_str()) != 0) {
      std::fprintf(stderr, "vfs_bench: %s failed\n", warm.c_str());
      rc = 1;
    }
    const char* lib = std::getenv("VFS_BENCH_LIB");  // another build of the shim to compare
    if (lib == nullptr || *lib == '\0') lib = HFSHIM_LIB;
    setenv("LD_PRELOAD", lib, 1);
    std::printf("vfs_bench: %d small files; native %s, virtual %s/prefix (LD_PRELOAD=%s)\n", files,
                native.c_str(), tmp.c_str(), lib);
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      execv("/proc/self/exe", args.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("VFS_BENCH_NATIVE") == nullptr) return Setup(argc, argv);
  LoadTree();
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
