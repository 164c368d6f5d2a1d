#include "core/cache/warm.h"

#include <atomic>
#include <map>
#include <mutex>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/parallel_parts.h"
#include "core/base/status_macros.h"
#include "core/push/repo_id.h"

namespace hfshim {
namespace {

// Adds the file content of `entry` at `path` (following a symlink) to the selection.
void Add(const IndexReader& index, absl::string_view path, const Entry& entry,
         absl::flat_hash_set<Hash128>* seen, std::vector<Entry>* out) {
  Entry file = entry;
  if (entry.type == EntryType::kSymlink) {
    auto r = index.Resolve(path, true);
    if (!r.ok() || !r->in_index) return;
    file = r->entry;
  }
  if (file.type != EntryType::kFile) return;
  if (seen->insert(file.content_hash).second) out->push_back(std::move(file));
}

// Reads refs/<name> of repo `dir` from the store: the revision it points to.
absl::StatusOr<std::string> ReadRef(const IndexReader& index, ObjectStore* store,
                                    const std::string& dir, const std::string& ref,
                                    absl::Time deadline) {
  ASSIGN_OR_RETURN(Entry e, index.Lookup(absl::StrCat(dir, "/refs/", ref)));
  std::string rev;
  if (e.size > 0) {
    RETURN_IF_ERROR(
        store->GetRange(e.location.object_key, e.location.offset, e.size, &rev, deadline));
  }
  return std::string(absl::StripAsciiWhitespace(rev));
}

// The index path a target names, or NotFound.
absl::StatusOr<std::string> TargetPath(const IndexReader& index, const std::string& target,
                                       ObjectStore* store, absl::Time deadline) {
  if (index.Lookup(target).ok() || index.Resolve(target, true).ok()) return target;
  auto dir = DirForRepoId(target);
  if (dir && index.Lookup(*dir).ok()) {
    const size_t at = target.find('@');
    if (at == std::string::npos) return *dir;
    std::string rev = target.substr(at + 1);
    if (!index.Lookup(absl::StrCat(*dir, "/snapshots/", rev)).ok()) {
      auto resolved = ReadRef(index, store, *dir, rev, deadline);
      if (resolved.ok()) rev = *resolved;
    }
    const std::string snap = absl::StrCat(*dir, "/snapshots/", rev);
    if (index.Lookup(snap).ok()) return snap;
    return absl::NotFoundError(absl::StrCat("revision ", target.substr(at + 1), " of ",
                                            target.substr(0, at), " is not in the store"));
  }
  return absl::NotFoundError(absl::StrCat("'", target,
                                          "' is neither a repo id nor a path in "
                                          "the store; see hfshim-ls"));
}

}  // namespace

absl::StatusOr<std::vector<Entry>> SelectContents(const IndexReader& index,
                                                  const std::vector<std::string>& targets,
                                                  ObjectStore* store, absl::Time deadline) {
  std::vector<std::string> roots;
  bool all = false;
  for (const std::string& t : targets) {
    if (t == "--all") {
      all = true;
      continue;
    }
    ASSIGN_OR_RETURN(std::string p, TargetPath(index, t, store, deadline));
    auto r = index.Resolve(p, true);
    if (r.ok() && !r->in_index) {
      return absl::NotFoundError(absl::StrCat("'", t,
                                              "' leads out of the hub cache; name a repo id or "
                                              "a path inside it (see hfshim-ls)"));
    }
    const std::string root = r.ok() ? r->path : p;
    if (root.empty()) {  // the hub cache itself ("$HF_HUB_CACHE/", ".", "models--x/..")
      all = true;
      continue;
    }
    roots.push_back(root);
  }
  absl::flat_hash_set<Hash128> seen;
  std::vector<Entry> out;
  RETURN_IF_ERROR(index.ForEach([&](absl::string_view path, const Entry& e) {
    bool wanted = all;
    for (const std::string& root : roots) {
      wanted = wanted || path == root || absl::StartsWith(path, root + "/");
    }
    if (wanted) Add(index, path, e, &seen, &out);
    return true;
  }));
  return out;
}

namespace {

// The order to warm `entries` in: packed files interleaved across their pack windows (the first
// file of every window, then the second of every window, ...), so parallel workers fetch
// different windows at once instead of queueing for the one window their neighbours share; the
// rest of each window is then already cached. Files not in packs keep their place up front.
std::vector<size_t> InterleavedByWindow(const std::vector<Entry>& entries) {
  constexpr uint64_t kDefaultWindow = 4 << 20;
  std::vector<size_t> order;
  std::map<std::pair<std::string, uint64_t>, std::vector<size_t>> windows;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (!absl::StartsWith(e.location.object_key, "packs/")) {
      order.push_back(i);
      continue;
    }
    const uint64_t w = e.block_size != 0 ? e.block_size : kDefaultWindow;
    windows[{e.location.object_key, e.location.offset / w}].push_back(i);
  }
  for (size_t round = 0; order.size() < entries.size(); ++round) {
    for (const auto& [key, members] : windows) {
      if (round < members.size()) order.push_back(members[round]);
    }
  }
  return order;
}

}  // namespace

WarmResult WarmContents(ContentCache* cache, const IndexReader& index,
                        const std::vector<Entry>& entries, int threads, bool verify,
                        absl::Time deadline,
                        const std::function<void(const WarmProgress&)>& progress) {
  WarmResult result;
  WarmProgress p;
  p.files_total = entries.size();
  for (const Entry& e : entries) p.bytes_total += e.size;
  result.files = p.files_total;
  result.bytes = p.bytes_total;
  // Decided up front: a file cached during this run as a pack neighbour of another counts as
  // fetched by the run, not as already cached.
  std::vector<char> cached_before(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    cached_before[i] = cache->Contains(entries[i].content_hash);
  }
  const std::vector<size_t> order = InterleavedByWindow(entries);
  std::mutex mu;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t k = next++; k < order.size(); k = next++) {
      const size_t i = order[k];
      const Entry& e = entries[i];
      bool cached = cached_before[i];
      bool dropped = false;
      if (cached && verify && absl::IsDataLoss(cache->Verify(e))) {
        cached = false;
        dropped = true;
      }
      absl::Status s;
      if (!cached) s = cache->Materialize(e, index, deadline).status();
      std::lock_guard<std::mutex> lock(mu);
      result.corrupt_dropped += dropped;
      if (cached) {
        ++result.already_cached;
        result.already_bytes += e.size;
      } else if (s.ok()) {
        ++result.fetched;
        result.fetched_bytes += e.size;
      } else {
        ++result.failed;
        if (result.first_error.empty()) result.first_error = std::string(s.message());
      }
      ++p.files_done;
      p.bytes_done += e.size;
      if (progress) progress(p);
    }
  };
  RunOnWorkers(std::max(threads, 1), [&](int) { work(); });
  return result;
}

}  // namespace hfshim
