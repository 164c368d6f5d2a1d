#include "core/index/path_walk.h"

#include <cerrno>
#include <deque>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"

namespace hfshim {
namespace {

// Pushes the components of `path` to the front of `pending`, keeping their order.
void PrependComponents(absl::string_view path, std::deque<std::string>* pending) {
  std::vector<std::string> parts = absl::StrSplit(path, '/');
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) pending->push_front(*it);
}

bool OnlyDotsAndEmpty(const std::deque<std::string>& pending) {
  for (const auto& c : pending) {
    if (!c.empty() && c != ".") return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<Resolved> ResolvePath(
    absl::string_view rel_path, bool follow_last,
    absl::FunctionRef<absl::StatusOr<Entry>(absl::string_view)> lookup) {
  if (rel_path.size() > kMaxPathBytes) {
    return PosixError(ENAMETOOLONG, "path is longer than PATH_MAX");
  }
  std::deque<std::string> pending;
  PrependComponents(rel_path, &pending);
  // A trailing '/' (or "/." at the end) demands a directory and follows a final symlink.
  bool must_be_dir = !rel_path.empty() &&
                     (rel_path.back() == '/' || absl::EndsWith(rel_path, "/.") || rel_path == ".");
  std::vector<std::string> current;  // canonical components of the directory reached so far
  Resolved out;
  ASSIGN_OR_RETURN(out.entry, lookup(""));
  int hops = 0;
  while (!pending.empty()) {
    std::string c = std::move(pending.front());
    pending.pop_front();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (current.empty()) {
        out.in_index = false;
        std::vector<std::string> rest;
        for (auto& p : pending) {
          if (!p.empty()) rest.push_back(p);
        }
        out.escaped_path = absl::StrJoin(rest, "/");
        if (must_be_dir && !out.escaped_path.empty()) out.escaped_path += "/";
        return out;
      }
      current.pop_back();
      ASSIGN_OR_RETURN(out.entry, lookup(absl::StrJoin(current, "/")));
      continue;
    }
    if (c.size() > 255) return PosixError(ENAMETOOLONG, "path component longer than NAME_MAX");
    std::string candidate = current.empty() ? c : absl::StrCat(absl::StrJoin(current, "/"), "/", c);
    absl::StatusOr<Entry> entry = lookup(candidate);
    if (!entry.ok()) return entry.status();
    const bool last = OnlyDotsAndEmpty(pending);
    if (entry->type == EntryType::kSymlink && (!last || follow_last || must_be_dir)) {
      if (++hops > kMaxSymlinkHops) {
        return PosixError(ELOOP, absl::StrCat("too many levels of symbolic links at ", candidate));
      }
      const std::string& target = entry->symlink_target;
      if (!target.empty() && target[0] == '/') {
        // An absolute target leaves the index: the caller resolves the rest on the real disk.
        out.in_index = false;
        std::vector<std::string> rest = {target};
        for (auto& p : pending) {
          if (!p.empty()) rest.push_back(p);
        }
        out.escaped_path = absl::StrJoin(rest, "/");
        return out;
      }
      PrependComponents(target, &pending);
      if (target.empty()) return PosixError(ENOENT, absl::StrCat("empty symlink at ", candidate));
      continue;
    }
    if (!last && entry->type != EntryType::kDirectory) {
      return PosixError(ENOTDIR, absl::StrCat(candidate, " is not a directory"));
    }
    current.push_back(std::move(c));
    out.entry = *std::move(entry);
  }
  if (must_be_dir && out.entry.type != EntryType::kDirectory) {
    return PosixError(ENOTDIR, absl::StrCat(rel_path, " is not a directory"));
  }
  out.path = absl::StrJoin(current, "/");
  return out;
}

}  // namespace hfshim
