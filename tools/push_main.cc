// hfshim-push: publishes a local Hugging Face hub cache into a store.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/env/env.h"
#include "core/index/generation.h"
#include "core/push/pusher.h"
#include "core/push/repo_id.h"
#include "core/store/object_store.h"
#include "tools/cli/cli.h"

namespace hfshim {
namespace {

constexpr char kTool[] = "hfshim-push";
constexpr char kUsage[] =
    "Usage: hfshim-push [--store URL] [--repo ID]... [--json] [HUB_DIR]\n"
    "\n"
    "Publishes the repos of a local hub cache (default: the hub cache huggingface_hub uses) into\n"
    "the store (default: HFSHIM_STORE). Each distinct file content is stored once; files under\n"
    "HFSHIM_PACK_THRESHOLD are packed together in the order of the snapshot paths that link to\n"
    "them. Re-pushing uploads only what is new.\n"
    "Repos already in the store and not pushed now are kept.\n"
    "\n"
    "  --store URL   file:///DIR, s3://BUCKET/PREFIX (see README)\n"
    "  --repo ID     push only this repo (org/name, datasets/org/name, or models--org--name);\n"
    "                repeatable\n"
    "  --json        print a JSON summary on stdout\n"
    "  --version     print the version and exit\n"
    "\n"
    "Exit status: 0 ok, 1 failure (nothing changes in the store), 2 usage error.\n";

std::string SummaryJson(const PushSummary& s, const std::string& store) {
  std::vector<std::string> repos;
  for (const auto& r : s.repos) repos.push_back(JsonQuote(r));
  return absl::StrCat("{\"store\": ", JsonQuote(store), ", \"repos\": [",
                      absl::StrJoin(repos, ", "), "], \"files\": ", s.files,
                      ", \"entries\": ", s.entries, ", \"bytes_scanned\": ", s.bytes_scanned,
                      ", \"objects_uploaded\": ", s.objects_uploaded,
                      ", \"bytes_uploaded\": ", s.bytes_uploaded,
                      ", \"bytes_deduplicated\": ", s.bytes_deduplicated,
                      ", \"up_to_date\": ", s.up_to_date ? "true" : "false",
                      ", \"generation\": ", s.sequence, ", \"seconds\": ", s.seconds, "}\n");
}

// The error of a failed push, noting that the store is unchanged (store errors name their fix).
absl::Status PushFailure(const absl::Status& error) {
  return absl::Status(error.code(), absl::StrCat(error.message(), " (the store is unchanged)"));
}

int Main(int argc, char** argv) {
  std::string store_url, hub_dir;
  std::vector<std::string> repos;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (HandleCommonOption(kTool, a, kUsage)) {
      return kExitOk;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--store" || a == "--repo") {
      if (i + 1 >= argc) return ReportUsage(kTool, a + " needs a value");
      std::string v = argv[++i];
      if (a == "--store") {
        store_url = v;
      } else {
        auto dir = DirForRepoId(v);
        if (!dir) return ReportUsage(kTool, NotARepoId(v));
        repos.push_back(*dir);
      }
    } else if (!a.empty() && a[0] == '-') {
      return ReportUsage(kTool, "unknown option '" + a + "'");
    } else if (hub_dir.empty()) {
      hub_dir = a;
    } else {
      return ReportUsage(kTool, "only one HUB_DIR may be given");
    }
  }
  Config config = LoadConfigOrExit(kTool);
  if (store_url.empty()) store_url = config.store_url;
  if (hub_dir.empty()) hub_dir = DefaultHubCachePath();
  while (hub_dir.size() > 1 && hub_dir.back() == '/') hub_dir.pop_back();
  auto store = OpenStore(store_url, config);
  if (!store.ok()) return ReportFailure(kTool, store.status());

  PushOptions o;
  o.hub_dir = hub_dir;
  o.repo_dirs = repos;
  o.block_size = config.block_size_bytes;
  o.pack_threshold = config.pack_threshold_bytes;
  o.threads = config.threads;
  o.timeout_seconds = std::max(config.timeout_seconds, 600.0);
  o.work_dir = config.cache_dirs[0] + "/push";
  ProgressBar bar("pushing");
  o.progress = [&](const PushProgress& p) {
    bar.Update(p.files_done, p.files_total, p.bytes_done, p.bytes_total);
  };
  auto summary = Push(store->get(), Env::Default(), o);
  bar.Finish();
  if (!summary.ok()) {
    return ReportFailure(kTool, PushFailure(summary.status()));
  }
  // Jobs started next on this node see the new generation at once, not after HFSHIM_REFRESH.
  if (!summary->up_to_date) ForgetGenerationCheck(NodeIndexDir(config), **store, Env::Default());
  if (json) {
    std::cout << SummaryJson(*summary, (*store)->Describe());
  } else if (summary->up_to_date) {
    std::cout << "up to date: " << absl::StrJoin(summary->repos, ", ") << " unchanged in "
              << (*store)->Describe() << " (generation " << summary->sequence << ")\n";
  } else {
    std::cout << "pushed " << summary->repos.size() << " repo(s) (" << summary->files << " files, "
              << HumanBytes(summary->bytes_scanned) << ") to " << (*store)->Describe()
              << ": uploaded " << summary->objects_uploaded << " objects ("
              << HumanBytes(summary->bytes_uploaded) << "), "
              << HumanBytes(summary->bytes_deduplicated) << " already stored; generation "
              << summary->sequence << "\n";
  }
  return kExitOk;
}

}  // namespace
}  // namespace hfshim

int main(int argc, char** argv) { return hfshim::Main(argc, argv); }
