// hfshim-warm: prefetches repos or paths of the store into this node's disk cache.
#include <sys/statvfs.h>

#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/cache/content_cache.h"
#include "core/cache/warm.h"
#include "core/env/env.h"
#include "core/index/generation.h"
#include "core/index/index_reader.h"
#include "core/stats/profile.h"
#include "core/store/object_store.h"
#include "tools/cli/cli.h"

namespace hfshim {
namespace {

constexpr char kTool[] = "hfshim-warm";
constexpr char kUsage[] =
    "Usage: hfshim-warm [--store URL] [--threads N] [--verify] [--json] TARGET...\n"
    "       hfshim-warm [options] --all\n"
    "       hfshim-warm [options] --from-profile FILE\n"
    "\n"
    "Fetches files of the store into this node's disk cache (HFSHIM_CACHE_DIR) so that jobs\n"
    "start warm. TARGET is a repo id (org/model, datasets/org/name, org/model@revision or\n"
    "@main), or a path under the hub cache (absolute, or relative to it). Already cached files\n"
    "are not fetched again.\n"
    "\n"
    "  --all                warm every repo of the store\n"
    "  --from-profile FILE  warm exactly the files a job read, from its HFSHIM_PROFILE file\n"
    "  --threads N          parallel transfers (default HFSHIM_THREADS)\n"
    "  --verify             re-check cached files against their checksums; refetch corrupt ones\n"
    "  --json               print a JSON summary on stdout\n"
    "\n"
    "Exit status: 0 ok, 1 failure (some file could not be fetched), 2 usage error.\n";

// Targets named by the reads of a recorded profile, relative to the hub cache.
std::vector<std::string> ProfileTargets(const std::string& file, bool* ok) {
  std::ifstream in(file);
  *ok = static_cast<bool>(in);
  std::set<std::string> paths;
  std::string line;
  while (std::getline(in, line)) {
    ProfileRecord r;
    if (ParseProfileLine(line, &r) && (r.op == "open" || r.op == "read" || r.op == "map")) {
      paths.insert(r.path);
    }
  }
  return {paths.begin(), paths.end()};
}

int Main(int argc, char** argv) {
  std::string store_url, profile;
  std::vector<std::string> targets;
  bool json = false, verify = false;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage << "\n" << SettingsHelp();
      return kExitOk;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--verify") {
      verify = true;
    } else if (a == "--all") {
      targets.push_back("--all");
    } else if (a == "--store" || a == "--threads" || a == "--from-profile") {
      if (i + 1 >= argc) return ReportUsage(kTool, a + " needs a value");
      std::string v = argv[++i];
      if (a == "--store") store_url = v;
      if (a == "--from-profile") profile = v;
      if (a == "--threads" && (!absl::SimpleAtoi(v, &threads) || threads < 1 || threads > 256)) {
        return ReportUsage(kTool, "--threads wants a number from 1 to 256");
      }
    } else if (!a.empty() && a[0] == '-') {
      return ReportUsage(kTool, "unknown option '" + a + "'");
    } else {
      targets.push_back(a);
    }
  }
  Config config = LoadConfigOrExit(kTool);
  if (!profile.empty()) {
    bool ok = false;
    for (auto& t : ProfileTargets(profile, &ok)) targets.push_back(t);
    if (!ok) return ReportFailure(kTool, absl::NotFoundError("cannot read profile " + profile));
  }
  if (targets.empty())
    return ReportUsage(kTool, "name what to warm: TARGET..., --all or --from-profile");
  // Absolute paths under the prefix become paths relative to the hub cache root.
  for (std::string& t : targets) {
    if (absl::StartsWith(t, config.prefix + "/")) t = t.substr(config.prefix.size() + 1);
  }
  if (store_url.empty()) store_url = config.store_url;
  if (threads == 0) threads = config.threads;
  auto store = OpenStore(store_url, config);
  if (!store.ok()) return ReportFailure(kTool, store.status());
  const absl::Time deadline = absl::Now() + absl::Hours(24);
  auto head = FindLatestHead(store->get(), RequestDeadline(config));
  if (!head.ok()) return ReportFailure(kTool, head.status());
  if (!head->has_value()) {
    return ReportFailure(kTool, absl::NotFoundError(absl::StrCat(
                                    (*store)->Describe(), " is empty; push with hfshim-push")));
  }
  auto path = FetchGeneration(store->get(), **head, config.cache_dirs[0] + "/index", Env::Default(),
                              RequestDeadline(config));
  if (!path.ok()) return ReportFailure(kTool, path.status());
  auto index = IndexReader::Open(*path);
  if (!index.ok()) return ReportFailure(kTool, index.status());
  auto entries = SelectContents(**index, targets, store->get(), RequestDeadline(config));
  if (!entries.ok()) return ReportFailure(kTool, entries.status());
  auto cache = ContentCache::Create(config, store->get(), Env::Default());
  if (!cache.ok()) return ReportFailure(kTool, cache.status());

  uint64_t missing = 0;
  for (const Entry& e : *entries) missing += (*cache)->Contains(e.content_hash) ? 0 : e.size;
  struct statvfs v;
  if (statvfs(config.cache_dirs[0].c_str(), &v) == 0) {
    const double usable = static_cast<double>(v.f_bavail) * v.f_frsize -
                          config.free_ratio * static_cast<double>(v.f_blocks) * v.f_frsize;
    if (missing > config.cache_size_bytes || static_cast<double>(missing) > usable) {
      std::cerr << kTool << ": warning: " << HumanBytes(missing) << " to fetch does not fit the "
                << "cache limits (HFSHIM_CACHE_SIZE " << HumanBytes(config.cache_size_bytes)
                << ", free space " << HumanBytes(std::max(usable, 0.0))
                << "); older content will be evicted and some may not stay cached\n";
    }
  }
  ProgressBar bar("warming");
  WarmResult r = WarmContents(
      cache->get(), **index, *entries, threads, verify, deadline, [&](const WarmProgress& p) {
        bar.Update(p.files_done, p.files_total, p.bytes_done, p.bytes_total);
      });
  bar.Finish();
  if (json) {
    std::cout << absl::StrCat("{\"files\": ", r.files, ", \"bytes\": ", r.bytes,
                              ", \"already_cached\": ", r.already_cached,
                              ", \"fetched\": ", r.fetched,
                              ", \"fetched_bytes\": ", r.fetched_bytes, ", \"failed\": ", r.failed,
                              ", \"corrupt_dropped\": ", r.corrupt_dropped,
                              ", \"generation\": ", (*head)->sequence, "}\n");
  } else if (r.fetched == 0 && r.failed == 0) {
    std::cout << "nothing to fetch: all " << r.files << " files (" << HumanBytes(r.bytes)
              << ") are already cached\n";
  } else {
    std::cout << "fetched " << r.fetched << " files (" << HumanBytes(r.fetched_bytes) << "); "
              << r.already_cached << " were already cached";
    if (r.corrupt_dropped) std::cout << "; " << r.corrupt_dropped << " corrupt ones replaced";
    std::cout << "\n";
  }
  if (r.failed > 0) {
    std::cerr << kTool << ": " << r.failed
              << " files could not be fetched; first error: " << r.first_error << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace
}  // namespace hfshim

int main(int argc, char** argv) { return hfshim::Main(argc, argv); }
