#include "core/index/path_walk.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"

namespace hfshim {
namespace {

// Walk state kept on the stack for the common depths (a hub path has about ten components).
using Components = absl::InlinedVector<absl::string_view, 24>;

// Pushes the components of `path` onto `pending` (a stack: the next component is at the back).
void PushComponents(absl::string_view path, Components* pending) {
  size_t end = path.size();
  while (true) {
    size_t slash = path.rfind('/', end == 0 ? 0 : end - 1);
    if (end == 0) {
      pending->push_back(absl::string_view());
      return;
    }
    if (slash == absl::string_view::npos) {
      pending->push_back(path.substr(0, end));
      return;
    }
    pending->push_back(path.substr(slash + 1, end - slash - 1));
    end = slash;
  }
}

// The symlink targets a walk has followed, which `pending` points into: the first few kept in
// place, more (a long chain of links) on the heap. A kept string never moves.
class LinkTargets {
 public:
  const std::string& Keep(std::string target) {
    if (inline_count_ < inline_.size()) {
      inline_[inline_count_] = std::move(target);
      return inline_[inline_count_++];
    }
    overflow_.push_back(std::make_unique<std::string>(std::move(target)));
    return *overflow_.back();
  }

 private:
  std::array<std::string, 4> inline_;
  size_t inline_count_ = 0;
  std::vector<std::unique_ptr<std::string>> overflow_;
};

bool OnlyDotsAndEmpty(const Components& pending) {
  for (absl::string_view c : pending) {
    if (!c.empty() && c != ".") return false;
  }
  return true;
}

std::string JoinRest(const Components& pending, absl::string_view first) {
  std::string out(first);
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
    if (it->empty()) continue;
    if (!out.empty()) out.push_back('/');
    out.append(it->data(), it->size());
  }
  return out;
}

}  // namespace

namespace {

// The walk of ResolvePath from an already resolved directory `base` ("" = the root; `base_entry`
// its entry, or null to look it up).
absl::StatusOr<Resolved> Walk(absl::string_view base, const Entry* base_entry, int base_hops,
                              absl::string_view rel_path, bool follow_last, EntryLookup lookup,
                              const IndexReader* links) {
  Components pending;   // views into rel_path and into `targets`
  LinkTargets targets;  // link targets being walked
  PushComponents(rel_path, &pending);
  // A trailing '/' (or "/." at the end) demands a directory and follows a final symlink.
  const bool must_be_dir = !rel_path.empty() && (rel_path.back() == '/' ||
                                                 absl::EndsWith(rel_path, "/.") || rel_path == ".");
  std::string current;  // canonical path of the directory reached so far
  current.reserve(base.size() + rel_path.size() + 128);
  current.assign(base.data(), base.size());
  absl::InlinedVector<size_t, 24> lengths;  // current's length before each component, to pop ".."
  if (!base.empty()) {
    lengths.push_back(0);
    for (size_t i = 0; i < base.size(); ++i) {
      if (base[i] == '/') lengths.push_back(i);
    }
  }
  Resolved out;
  if (base_entry != nullptr) {
    out.entry = *base_entry;
  } else {
    ASSIGN_OR_RETURN(out.entry, lookup(current, /*last=*/false));
  }
  int hops = base_hops;
  bool entry_stale = false;
  while (!pending.empty()) {
    const absl::string_view c = pending.back();
    pending.pop_back();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (lengths.empty()) {
        out.in_index = false;
        out.escaped_path = JoinRest(pending, "");
        if (must_be_dir && !out.escaped_path.empty()) out.escaped_path += "/";
        return out;
      }
      current.resize(lengths.back());
      lengths.pop_back();
      entry_stale = true;  // looked up only if the walk ends here
      continue;
    }
    if (c.size() > 255) return PosixError(ENAMETOOLONG, "path component longer than NAME_MAX");
    const size_t before = current.size();
    if (!current.empty()) current.push_back('/');
    current.append(c.data(), c.size());
    const bool last = OnlyDotsAndEmpty(pending);
    absl::StatusOr<Entry> entry = lookup(current, last);
    if (!entry.ok()) return entry.status();
    if (entry->type == EntryType::kSymlink && (!last || follow_last || must_be_dir)) {
      if (++hops > kMaxSymlinkHops) {
        return PosixError(ELOOP, absl::StrCat("too many levels of symbolic links at ", current));
      }
      // A last link whose walk push recorded: its file, unless the walk would pass the hop
      // limit on the way (then the walk below fails where the kernel would).
      if (last && !must_be_dir && links != nullptr && entry->link_record != 0 &&
          hops - 1 + static_cast<int64_t>(entry->link_hops) <= kMaxSymlinkHops) {
        ASSIGN_OR_RETURN(out.entry, links->LinkedFile(entry->link_record, &out.path));
        out.symlink_hops = hops - 1 + static_cast<int>(entry->link_hops);
        return out;
      }
      current.resize(before);  // a link's target is relative to the link's directory
      const std::string& target = targets.Keep(std::move(entry->symlink_target));
      if (target.empty()) return PosixError(ENOENT, "empty symlink");
      if (target[0] == '/') {
        // An absolute target leaves the index: the caller resolves the rest on the real disk.
        out.in_index = false;
        out.escaped_path = JoinRest(pending, target);
        return out;
      }
      PushComponents(target, &pending);
      continue;
    }
    if (!last && entry->type != EntryType::kDirectory) {
      return PosixError(ENOTDIR, absl::StrCat(current, " is not a directory"));
    }
    lengths.push_back(before);
    out.entry = *std::move(entry);
    entry_stale = false;
  }
  if (entry_stale) {
    ASSIGN_OR_RETURN(out.entry, lookup(current, /*last=*/false));
  }
  if (must_be_dir && out.entry.type != EntryType::kDirectory) {
    return PosixError(ENOTDIR, absl::StrCat(rel_path, " is not a directory"));
  }
  out.path = std::move(current);
  out.symlink_hops = hops;
  return out;
}

}  // namespace

absl::StatusOr<Resolved> ResolvePath(absl::string_view rel_path, bool follow_last,
                                     EntryLookup lookup, const IndexReader* links) {
  if (rel_path.size() > kMaxPathBytes) {
    return PosixError(ENAMETOOLONG, "path is longer than PATH_MAX");
  }
  return Walk("", nullptr, 0, rel_path, follow_last, lookup, links);
}

namespace {

// A single plain name (no '/', not "", "." or ".."): what Walk does for it, without its
// stacks. The walk of opening or stating one file of a directory resolved before.
bool IsPlainName(absl::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == absl::string_view::npos;
}

}  // namespace

absl::StatusOr<Resolved> ResolvePathFrom(absl::string_view base, const Entry& base_entry,
                                         int base_hops, absl::string_view rel_path,
                                         bool follow_last, EntryLookup lookup,
                                         const IndexReader* links) {
  if (!IsPlainName(rel_path) || rel_path.size() > 255 || base.size() > kMaxPathBytes) {
    return Walk(base, &base_entry, base_hops, rel_path, follow_last, lookup, links);
  }
  char buf[kMaxPathBytes + 1 + 256];
  size_t n = base.size();
  std::memcpy(buf, base.data(), n);
  if (n != 0) buf[n++] = '/';
  std::memcpy(buf + n, rel_path.data(), rel_path.size());
  const absl::string_view path(buf, n + rel_path.size());
  absl::StatusOr<Entry> entry = lookup(path, /*last=*/true);
  if (!entry.ok()) return entry.status();
  Resolved out;
  if (entry->type == EntryType::kSymlink && follow_last) {
    const int hops = base_hops + 1;
    if (hops > kMaxSymlinkHops) {
      return PosixError(ELOOP, absl::StrCat("too many levels of symbolic links at ", path));
    }
    if (links == nullptr || entry->link_record == 0 ||
        base_hops + static_cast<int64_t>(entry->link_hops) > kMaxSymlinkHops) {
      return Walk(base, &base_entry, base_hops, rel_path, follow_last, lookup, links);
    }
    ASSIGN_OR_RETURN(out.entry, links->LinkedFile(entry->link_record, &out.path));
    out.symlink_hops = base_hops + static_cast<int>(entry->link_hops);
    return out;
  }
  out.entry = *std::move(entry);
  out.path.assign(path.data(), path.size());
  out.symlink_hops = base_hops;
  return out;
}

}  // namespace hfshim
