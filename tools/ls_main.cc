// hfshim-ls: lists what a store holds: repos, revisions, refs, file counts and sizes.
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/env/env.h"
#include "core/push/catalog.h"
#include "core/push/publisher.h"
#include "core/push/repo_id.h"
#include "core/store/object_store.h"
#include "tools/cli/cli.h"

namespace hfshim {
namespace {

constexpr char kTool[] = "hfshim-ls";
constexpr char kUsage[] =
    "Usage: hfshim-ls [--store URL] [--json] [REPO]\n"
    "\n"
    "Lists the repos in the store's current generation with their revisions, refs, file counts\n"
    "and sizes; with REPO (org/name, datasets/org/name), that repo in detail.\n"
    "\n"
    "  --store URL   file:///DIR, s3://BUCKET/PREFIX (default: HFSHIM_STORE)\n"
    "  --json        print the listing as JSON on stdout\n"
    "  --version     print the version and exit\n"
    "\n"
    "Exit status: 0 ok, 1 failure (or REPO not in the store), 2 usage error.\n";

std::string RepoJson(const RepoSummary& r) {
  std::vector<std::string> revs, refs;
  for (const auto& v : r.revisions) revs.push_back(JsonQuote(v));
  for (const auto& [k, v] : r.refs) refs.push_back(absl::StrCat(JsonQuote(k), ": ", JsonQuote(v)));
  return absl::StrCat("{\"id\": ", JsonQuote(r.id), ", \"dir\": ", JsonQuote(r.dir_name),
                      ", \"revisions\": [", absl::StrJoin(revs, ", "), "], \"refs\": {",
                      absl::StrJoin(refs, ", "), "}, \"files\": ", r.files,
                      ", \"blobs\": ", r.blobs, ", \"bytes\": ", r.bytes, "}");
}

int Main(int argc, char** argv) {
  std::string store_url, repo;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (HandleCommonOption(kTool, a, kUsage)) {
      return kExitOk;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--store") {
      if (i + 1 >= argc) return ReportUsage(kTool, "--store needs a URL");
      store_url = argv[++i];
    } else if (!a.empty() && a[0] == '-') {
      return ReportUsage(kTool, "unknown option '" + a + "'");
    } else {
      if (!repo.empty()) return ReportUsage(kTool, "give at most one repo id");
      auto dir = DirForRepoId(a);
      if (!dir) return ReportUsage(kTool, NotARepoId(a));
      repo = *dir;
    }
  }
  Config config = LoadConfigOrExit(kTool);
  if (store_url.empty()) store_url = config.store_url;
  auto store = OpenStore(store_url, config);
  if (!store.ok()) return ReportFailure(kTool, store.status());
  const absl::Time deadline = RequestDeadline(config);
  auto gen =
      LoadLatestGeneration(store->get(), Env::Default(), config.cache_dirs[0] + "/push", deadline);
  if (!gen.ok()) return ReportFailure(kTool, gen.status());
  std::vector<RepoSummary> repos;
  if (gen->reader != nullptr) {
    auto all = DescribeRepos(*gen->reader, store->get(), deadline);
    if (!all.ok()) return ReportFailure(kTool, all.status());
    for (auto& r : *all) {
      if (repo.empty() || r.dir_name == repo) repos.push_back(std::move(r));
    }
  }
  if (!repo.empty() && repos.empty()) {
    return ReportFailure(kTool, absl::NotFoundError(absl::StrCat(
                                    *RepoIdForDir(repo), " is not in ", (*store)->Describe(),
                                    "; push it with hfshim-push --repo ", *RepoIdForDir(repo))));
  }
  const uint64_t generation = gen->head ? gen->head->sequence : 0;
  if (json) {
    std::vector<std::string> items;
    for (const auto& r : repos) items.push_back(RepoJson(r));
    std::cout << "{\"store\": " << JsonQuote((*store)->Describe())
              << ", \"generation\": " << generation << ", \"repos\": ["
              << absl::StrJoin(items, ", ") << "]}\n";
    return kExitOk;
  }
  if (gen->reader == nullptr) {
    std::cout << (*store)->Describe() << " is empty: nothing was pushed yet\n";
    return kExitOk;
  }
  std::cout << (*store)->Describe() << ", generation " << generation << "\n";
  std::cout << absl::StrFormat("%-44s %5s %8s %10s  %s\n", "REPO", "REVS", "FILES", "SIZE", "REFS");
  for (const auto& r : repos) {
    std::vector<std::string> refs;
    for (const auto& [k, v] : r.refs) refs.push_back(absl::StrCat(k, "=", v.substr(0, 12)));
    std::cout << absl::StrFormat("%-44s %5d %8d %10s  %s\n", r.id, r.revisions.size(), r.files,
                                 HumanBytes(r.bytes), absl::StrJoin(refs, " "));
    if (!repo.empty()) {
      for (const auto& rev : r.revisions) std::cout << "  revision " << rev << "\n";
    }
  }
  return kExitOk;
}

}  // namespace
}  // namespace hfshim

int main(int argc, char** argv) { return hfshim::Main(argc, argv); }
