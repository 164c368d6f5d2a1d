// Vfs routing: where a (dirfd, path) lands, and resolution inside the index.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/index/path_walk.h"
#include "core/vfs/op_results.h"
#include "core/vfs/vfs.h"

namespace hfshim {
namespace {

// Splits off the next component of `p` starting at *pos (skipping '/'), or "" at the end.
absl::string_view NextComponent(absl::string_view p, size_t* pos) {
  size_t i = *pos;
  while (i < p.size() && p[i] == '/') ++i;
  size_t start = i;
  while (i < p.size() && p[i] != '/') ++i;
  *pos = i;
  return p.substr(start, i - start);
}

std::string JoinPath(absl::string_view base, absl::string_view rel) {
  if (base.empty()) return std::string(rel);
  if (rel.empty()) return std::string(base);
  if (base.back() == '/') return absl::StrCat(base, rel);
  return absl::StrCat(base, "/", rel);
}

absl::string_view Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

// The directory holding the prefix (its real form), for paths that ".." out of the index root.
// ".." components above the prefix root followed back in by one routing (RouteRel).
constexpr int kMaxRouteEscapes = 40;

std::string PrefixParent(const Prefix& prefix) {
  absl::string_view real = prefix.real();
  size_t slash = real.rfind('/');
  if (slash == absl::string_view::npos || slash == 0) return "/";
  return std::string(real.substr(0, slash));
}

// Marks the synthesised entry of a top-level name the index does not have (see Find).
constexpr uint64_t kRealTopLevelIno = ~0ull;

}  // namespace

bool Vfs::PlaceholderDir(int fd, std::string* rel) {
  struct stat st;
  if (!env_->Fstat(fd, &st).ok() || !S_ISDIR(st.st_mode)) return false;
  if (placeholders_.Lookup(st.st_dev, st.st_ino, rel)) return true;
  // Not created by this process (inherited across exec): ask the kernel for its path.
  absl::StatusOr<std::string> link = env_->ReadLink(absl::StrCat("/proc/self/fd/", fd));
  return link.ok() && placeholders_.LookupPath(*link, rel);
}

absl::StatusOr<Location> Vfs::Locate(int dirfd, absl::string_view path) {
  if (path.size() >= kVfsPathMax) return PosixError(ENAMETOOLONG, "path too long");
  if (!path.empty() && path[0] == '/') return Route(path, /*base_virtual=*/false);
  std::string vdir;
  if (dirfd == AT_FDCWD) {
    char cwd[kVfsPathMax];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) return ErrnoStatus(errno, "getcwd");
    if (!placeholders_.LookupPath(cwd, &vdir)) return Route(JoinPath(cwd, path), false);
  } else if (!PlaceholderDir(dirfd, &vdir)) {
    absl::StatusOr<std::string> base = env_->ReadLink(absl::StrCat("/proc/self/fd/", dirfd));
    if (!base.ok()) return PosixError(EBADF, absl::StrCat("fd ", dirfd, " is not open"));
    if (base->empty() || (*base)[0] != '/') return Location{};  // a pipe, socket, ...
    return Route(JoinPath(*base, path), false);
  }
  return RouteRel(JoinPath(vdir, path), /*base_virtual=*/true, 0);
}

absl::StatusOr<Location> Vfs::Route(absl::string_view abs, bool base_virtual, int depth) {
  char scratch[kVfsPathMax];
  absl::string_view rel;
  if (!prefix_->Match(abs, scratch, &rel)) {
    Location loc;
    if (base_virtual) loc.rewrite = std::string(abs);
    return loc;
  }
  return RouteRel(rel, base_virtual, depth);
}

// `rel` is relative to the prefix root. Walks the components that are real (outside the index)
// lexically until one names a top-level entry of the index.
absl::StatusOr<Location> Vfs::RouteRel(absl::string_view rel, bool base_virtual, int depth) {
  const Generation* gen = generations_.Current();
  Location loc;
  size_t pos = 0;
  int real_depth = 0;
  while (true) {
    size_t start = pos;
    absl::string_view comp = NextComponent(rel, &pos);
    if (comp.empty()) {
      loc.kind = real_depth == 0 ? Location::kPrefixRoot : Location::kReal;
      break;
    }
    if (comp == ".") continue;
    if (comp == "..") {
      if (real_depth == 0) {
        // Above the prefix root, a real directory: the kernel goes on from its parent, and the
        // rest may come back in ("$P/../hub/x" when the prefix is ".../hub"). Each escape
        // consumes a component, so this ends.
        if (depth >= kMaxRouteEscapes) {
          loc.kind = Location::kOutside;
          break;
        }
        return Route(JoinPath(PrefixParent(*prefix_), rel.substr(pos)), base_virtual, depth + 1);
      }
      --real_depth;
      continue;
    }
    if (real_depth == 0 && gen != nullptr && LookupEntry(gen, comp).ok()) {
      while (start < rel.size() && rel[start] == '/') ++start;
      loc.kind = Location::kVirtual;
      loc.rel = std::string(rel.substr(start));
      return loc;
    }
    ++real_depth;
  }
  if (base_virtual) loc.rewrite = JoinPath(prefix_->literal(), rel);
  return loc;
}

absl::StatusOr<Entry> Vfs::LookupInUnion(const Generation* gen, absl::string_view p, bool last) {
  // The prefix root is a union: a top-level name the index lacks (reached through "..") is the
  // real entry beside the repos. The walk sees it as a symlink out of the root to that real
  // entry, so it continues on the real disk with kernel semantics.
  absl::StatusOr<Entry> e = LookupEntry(gen, p, last);
  if (e.ok() || p.empty() || p.find('/') != absl::string_view::npos ||
      !absl::IsNotFound(e.status())) {
    return e;
  }
  Entry real;
  real.type = EntryType::kSymlink;
  real.ino = kRealTopLevelIno;
  real.symlink_target = absl::StrCat("../", Basename(prefix_->real()), "/", p);
  return real;
}

absl::StatusOr<Entry> Vfs::LookupEntry(const Generation* gen, absl::string_view p, bool last) {
  if (p.empty() || !resolve_cache_.enabled()) return gen->reader->Lookup(p);
  char buf[kVfsPathMax + 1];
  if (p.size() >= kVfsPathMax) return gen->reader->Lookup(p);
  buf[0] = 'D';
  std::memcpy(buf + 1, p.data(), p.size());
  const absl::string_view key(buf, p.size() + 1);
  Entry hit;
  if (!last && resolve_cache_.Lookup(gen, key, [&](const CachedResolution& c) { hit = c.entry; })) {
    return hit;
  }
  absl::StatusOr<Entry> e = gen->reader->Lookup(p);
  if (e.ok() && e->type == EntryType::kDirectory) {
    CachedResolution c;
    c.virtual_entry = true;
    c.entry = *e;
    resolve_cache_.Insert(gen, key, std::move(c));
  }
  return e;
}

namespace {

// Errors that are a pure function of the path and the generation (index answers); anything else
// (EIO from a damaged index, EBADF, ...) is never remembered.
bool CacheableError(int err) {
  return err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENAMETOOLONG;
}

}  // namespace

absl::StatusOr<Vfs::Target> Vfs::Find(int dirfd, absl::string_view path, bool follow,
                                      const std::optional<Hash128>& missed_id) {
  // The key's id, hashed once for the lookup, the offer and the insert.
  const std::optional<Hash128> id = missed_id.has_value() || !resolve_cache_.enabled()
                                        ? missed_id
                                        : ResolveCacheKeyId(path, follow);
  if (!id.has_value()) return FindUncached(dirfd, path, follow);
  const Generation* gen = generations_.Current();
  if (gen == nullptr) return FindUncached(dirfd, path, follow);
  Target t;
  int err = 0;
  bool trimmed = false;
  // Only paths admitted by OfferedBefore are inserted below.
  if (!missed_id.has_value() &&
      resolve_cache_.LookupAdmitted(gen, *id, [&](const CachedResolution& c) {
        err = c.error;
        if (err != 0) return;
        t.virtual_entry = c.virtual_entry;
        t.prefix_root = c.prefix_root;
        t.real_path = c.real_path;
        if (c.virtual_entry) {
          t.resolved.path = c.path;
          t.resolved.entry = c.entry;
          trimmed = c.entry_trimmed;
        }
      })) {
    if (err != 0) return PosixError(err, "cached resolution");
    if (t.virtual_entry) {
      t.reader = gen->reader.get();
      if (trimmed) {  // the block checksums were not kept: read the whole entry again
        absl::StatusOr<Entry> full = gen->reader->Lookup(t.resolved.path);
        if (!full.ok()) return FindUncached(dirfd, path, follow);
        t.resolved.entry = *std::move(full);
      }
    }
    return t;
  }
  absl::StatusOr<Target> r;
  if (!FindViaParent(gen, path, follow, &r)) r = FindUncached(dirfd, path, follow);
  // Remember only what was computed on `gen` throughout: generations are never reused, so an
  // unchanged pointer after the walk means no refresh happened in between.
  if (generations_.Peek() != gen) return r;
  // Only a path asked for before: a pass over a dataset asks for each path once.
  if (!resolve_cache_.OfferedBefore(*id)) return r;
  CachedResolution c;
  if (!r.ok()) {
    c.error = StatusToErrno(r.status());
    if (!CacheableError(c.error)) return r;
  } else if (r->virtual_entry && r->reader != gen->reader.get()) {
    return r;
  } else {
    c.virtual_entry = r->virtual_entry;
    c.prefix_root = r->prefix_root;
    c.real_path = r->real_path;
    if (r->virtual_entry) {
      c.path = r->resolved.path;
      c.SetEntry(&r->resolved.entry);
    }
  }
  resolve_cache_.Insert(gen, *id, std::move(c));
  return r;
}

bool Vfs::FindViaParent(const Generation* gen, absl::string_view path, bool follow,
                        absl::StatusOr<Target>* out) {
  // Only "/a/b/name" spellings: no "//", ".", ".." or trailing '/' anywhere, so the path is its
  // parent's path plus one plain name, and every component of the parent is followed.
  if (NeedsLexicalClean(path)) return false;
  const size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos || slash == 0) return false;
  const absl::string_view parent = path.substr(0, slash);
  const absl::string_view name = path.substr(slash + 1);
  if (name.empty() || name.size() > 255) return false;  // the whole walk reports those
  char buf[kVfsPathMax + 1];
  buf[0] = 'P';
  std::memcpy(buf + 1, parent.data(), parent.size());
  const absl::string_view key(buf, parent.size() + 1);
  bool usable = false;
  char base_buf[kVfsPathMax];  // the parent's canonical path, copied out of the cache
  size_t base_len = 0;
  Entry base_entry;
  int base_hops = 0;
  auto take_base = [&](const CachedResolution& c) {
    usable = c.virtual_entry && c.path.size() < sizeof(base_buf);
    if (!usable) return;
    std::memcpy(base_buf, c.path.data(), c.path.size());
    base_len = c.path.size();
    base_entry = c.entry;
    base_hops = c.symlink_hops;
  };
  const bool known = resolve_cache_.Lookup(gen, key, take_base);
  if (!known) {
    absl::StatusOr<Target> dir = FindUncached(AT_FDCWD, parent, /*follow=*/true);
    // Usable: a virtual directory inside a repo, reached without leaving the index.
    CachedResolution c;
    c.virtual_entry = dir.ok() && dir->virtual_entry && dir->reentries == 0 &&
                      dir->reader == gen->reader.get() && !dir->resolved.path.empty() &&
                      dir->resolved.entry.type == EntryType::kDirectory;
    if (c.virtual_entry) {
      c.path = dir->resolved.path;
      c.entry = dir->resolved.entry;
      c.symlink_hops = dir->resolved.symlink_hops;
      take_base(c);
    }
    if (generations_.Peek() == gen && (dir.ok() || CacheableError(StatusToErrno(dir.status())))) {
      resolve_cache_.Insert(gen, key, std::move(c));
    }
  }
  if (!usable) return false;
  absl::StatusOr<Resolved> r = ResolvePathFrom(
      absl::string_view(base_buf, base_len), base_entry, base_hops, name, follow,
      [&](absl::string_view p, bool last) { return LookupInUnion(gen, p, last); },
      gen->reader.get());
  if (!r.ok()) {
    *out = r.status();
    return true;
  }
  // Leaving the index, or the real entries beside the repos: the whole walk handles those.
  if (!r->in_index || r->path.empty() || r->entry.ino == kRealTopLevelIno) return false;
  Target t;
  t.virtual_entry = true;
  t.resolved = *std::move(r);
  t.reader = gen->reader.get();
  *out = std::move(t);
  return true;
}

bool Vfs::StatCached(absl::string_view path, bool follow, struct stat* st, Outcome* out,
                     std::string* canonical, std::optional<Hash128>* missed_id) {
  const std::optional<Hash128> id =
      resolve_cache_.enabled() ? ResolveCacheKeyId(path, follow) : std::nullopt;
  if (!id.has_value()) return false;
  const Generation* gen = generations_.Current();
  const bool hit = resolve_cache_.LookupAdmitted(gen, *id, [&](const CachedResolution& c) {
    if (c.error != 0) {
      *out = Fail(c.error);
    } else if (!c.virtual_entry) {
      *out = StatPassthrough(c.real_path, c.prefix_root);
    } else {
      EntryToStat(c.entry, identity_, st);
      if (canonical != nullptr) *canonical = c.path;
      *out = Outcome::Result(0);
    }
  });
  if (!hit) *missed_id = id;
  return hit;
}

absl::StatusOr<Vfs::Target> Vfs::FindUncached(int dirfd, absl::string_view path, bool follow) {
  ASSIGN_OR_RETURN(Location loc, Locate(dirfd, path));
  Target t;
  for (int hop = 0; hop < 8; ++hop) {
    if (loc.kind != Location::kVirtual) {
      t.prefix_root = loc.kind == Location::kPrefixRoot;
      t.real_path = std::move(loc.rewrite);
      return t;
    }
    const Generation* gen = generations_.Current();
    if (gen == nullptr) return t;  // the index went away: the real disk answers
    auto lookup = [&](absl::string_view p, bool last) { return LookupInUnion(gen, p, last); };
    ASSIGN_OR_RETURN(Resolved r, ResolvePath(loc.rel, follow, lookup, gen->reader.get()));
    if (r.in_index && r.entry.ino == kRealTopLevelIno) {  // not followed: the real entry itself
      t.real_path = JoinPath(prefix_->literal(), r.path);
      return t;
    }
    if (r.in_index && r.path.empty()) {  // ".." back up to the prefix root, which is real
      t.prefix_root = true;
      t.real_path = std::string(prefix_->literal());
      return t;
    }
    if (r.in_index) {
      t.virtual_entry = true;
      t.reentries = hop;
      t.resolved = std::move(r);
      t.reader = gen->reader.get();
      return t;
    }
    // Left the index ("..", an absolute symlink): the rest is a real path (or re-enters).
    std::string escaped = r.escaped_path;
    if (escaped.empty() || escaped[0] != '/') escaped = JoinPath(PrefixParent(*prefix_), escaped);
    ASSIGN_OR_RETURN(loc, Route(escaped, true));
  }
  return PosixError(ELOOP, absl::StrCat("too many re-entries resolving ", path));
}

}  // namespace hfshim
