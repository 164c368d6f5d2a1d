// hfshim-warm: prefetches repos or paths of the store into this node's disk cache.
#include <sys/statvfs.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/base/status_macros.h"
#include "core/cache/content_cache.h"
#include "core/cache/warm.h"
#include "core/env/env.h"
#include "core/index/generation.h"
#include "core/index/index_reader.h"
#include "core/push/catalog.h"
#include "core/push/repo_id.h"
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
    "  --version            print the version and exit\n"
    "\n"
    "TARGET..., --all and --from-profile cannot be combined.\n"
    "Exit status: 0 ok, 1 failure (some file could not be fetched, or the profile records no\n"
    "reads), 2 usage error.\n";

// Targets named by the reads (open, read, map) of the profile `file`, in path order. Fails
// when the file cannot be read, or records no reads.
absl::StatusOr<std::vector<std::string>> ProfileTargets(const std::string& file) {
  auto reader = ProfileReader::Open(file);
  if (!reader.ok()) return reader.status();
  std::string text;
  RETURN_IF_ERROR((*reader)->ReadMore(&text));
  std::set<std::string> paths;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ProfileRecord r;
    if (ParseProfileLine(line, &r) && (r.op == "open" || r.op == "read" || r.op == "map")) {
      paths.insert(r.path);
    }
  }
  if (paths.empty()) {
    return absl::NotFoundError(absl::StrCat("profile ", file,
                                            " records no reads; record one by running the job "
                                            "with HFSHIM_PROFILE=",
                                            file));
  }
  return std::vector<std::string>(paths.begin(), paths.end());
}

// What to add to the error of a target REPO@REV whose revision is not in the store: the refs
// and revisions REPO has, e.g. "; solo has main, 49f2...; see hfshim-ls solo". Empty when no
// target is such a REPO@REV (the error is about something else).
std::string RevisionHint(const IndexReader& index, ObjectStore* store,
                         const std::vector<std::string>& targets, absl::Time deadline) {
  auto repos = DescribeRepos(index, store, deadline);
  if (!repos.ok()) return "";
  for (const std::string& t : targets) {
    const size_t at = t.find('@');
    auto dir = DirForRepoId(t);
    if (at == std::string::npos || !dir) continue;
    const std::string rev = t.substr(at + 1);
    for (const RepoSummary& r : *repos) {
      if (r.dir_name != *dir || r.refs.count(rev) ||
          std::find(r.revisions.begin(), r.revisions.end(), rev) != r.revisions.end()) {
        continue;
      }
      std::vector<std::string> names;
      for (const auto& [ref, unused] : r.refs) names.push_back(ref);
      names.insert(names.end(), r.revisions.begin(), r.revisions.end());
      constexpr size_t kMaxNames = 6;
      if (names.size() > kMaxNames) {
        names.resize(kMaxNames);
        names.push_back("...");
      }
      return absl::StrCat("; ", r.id, " has ", names.empty() ? "none" : absl::StrJoin(names, ", "),
                          "; see hfshim-ls ", r.id);
    }
  }
  return "";
}

// The usage error of giving more than one of TARGET..., --all and --from-profile; empty if at
// most one is given.
std::string ConflictOf(bool targets, bool all, bool profile) {
  const char* given[3];
  int n = 0;
  if (targets) given[n++] = "TARGET...";
  if (all) given[n++] = "--all";
  if (profile) given[n++] = "--from-profile";
  if (n < 2) return "";
  return absl::StrCat(given[0], " and ", given[1],
                      " cannot be combined; give one of TARGET..., --all or --from-profile");
}

int Main(int argc, char** argv) {
  std::string store_url, profile;
  std::vector<std::string> targets;
  bool json = false, verify = false, all = false;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (HandleCommonOption(kTool, a, kUsage)) {
      return kExitOk;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--verify") {
      verify = true;
    } else if (a == "--all") {
      all = true;
    } else if (a == "--store" || a == "--threads" || a == "--from-profile") {
      if (i + 1 >= argc) return ReportUsage(kTool, a + " needs a value");
      std::string v = argv[++i];
      if (a == "--store") store_url = v;
      if (a == "--from-profile" && v.empty()) {
        return ReportUsage(kTool, "--from-profile needs a file");
      }
      if (a == "--from-profile") profile = v;
      if (a == "--threads" && (!absl::SimpleAtoi(v, &threads) || threads < 1 || threads > 256)) {
        return ReportUsage(kTool, "--threads wants a number from 1 to 256");
      }
    } else if (!a.empty() && a[0] == '-') {
      return ReportUsage(kTool, "unknown option '" + a + "'");
    } else if (a.empty()) {  // "$UNSET_VARIABLE": not "the whole hub cache"
      return ReportUsage(kTool, "an empty TARGET; name a repo id or a path");
    } else {
      targets.push_back(a);
    }
  }
  if (const std::string conflict = ConflictOf(!targets.empty(), all, !profile.empty());
      !conflict.empty()) {
    return ReportUsage(kTool, conflict);
  }
  if (targets.empty() && !all && profile.empty()) {
    return ReportUsage(kTool, "name what to warm: TARGET..., --all or --from-profile");
  }
  Config config = LoadConfigOrExit(kTool);
  if (all) targets.push_back("--all");  // SelectContents' name for every file
  if (!profile.empty()) {
    auto read = ProfileTargets(profile);
    if (!read.ok()) return ReportFailure(kTool, read.status());
    targets = *std::move(read);
  }
  // Absolute paths under the prefix become paths relative to the hub cache root.
  for (std::string& t : targets) {
    if (t == config.prefix) t = "";  // the hub cache itself: everything
    if (absl::StartsWith(t, config.prefix + "/")) t = t.substr(config.prefix.size() + 1);
  }
  if (store_url.empty()) store_url = config.store_url;
  if (threads == 0) threads = config.threads;
  auto store = OpenStore(store_url, config);
  if (!store.ok()) return ReportFailure(kTool, store.status());
  const absl::Time deadline = absl::Now() + absl::Hours(24);
  // What is current in the store now (not the node's recent answer): a warm-up is for the
  // generation jobs will open next.
  auto check =
      CheckNewestHead(store->get(), NodeIndexDir(config), Env::Default(), RequestDeadline(config));
  if (!check.ok()) return ReportFailure(kTool, check.status());
  if (!check->head.has_value()) {
    return ReportFailure(kTool, absl::NotFoundError(absl::StrCat(
                                    (*store)->Describe(), " is empty; push with hfshim-push")));
  }
  auto path = FetchGeneration(store->get(), *check->head, NodeIndexDir(config), Env::Default(),
                              RequestDeadline(config));
  if (!path.ok()) return ReportFailure(kTool, path.status());
  NoteHeadChecked(NodeIndexDir(config), *check, Env::Default());
  auto index = IndexReader::Open(*path);
  if (!index.ok()) return ReportFailure(kTool, index.status());
  auto entries = SelectContents(**index, targets, store->get(), RequestDeadline(config));
  if (absl::IsNotFound(entries.status())) {
    return ReportFailure(
        kTool, absl::NotFoundError(absl::StrCat(
                   entries.status().message(),
                   RevisionHint(**index, store->get(), targets, RequestDeadline(config)))));
  }
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
                              ", \"generation\": ", check->head->sequence, "}\n");
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
