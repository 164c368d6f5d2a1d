// Vfs: the virtual hub cache as the shim sees it — every operation on a path or fd under the
// prefix, answered from the index and the node disk cache with POSIX results (INTERPOSE.md).
//
// Namespace (a union, DESIGN.md decision 6): under the prefix, the top-level entries present in
// the index (repos) are virtual and read-only; everything else under the prefix is the real
// directory underneath and passes through; the prefix root itself is real, but its listing also
// shows the index's repos. Inside a virtual repo the index is authoritative (ENOENT, ENOTDIR,
// ELOOP as the kernel would answer) and write intents fail with EROFS.
//
// Content: open() of a virtual file returns a real kernel fd on its content in the node disk
// cache. Small files are cached whole before open returns (ContentCache::Materialize), so their
// fds need no interception at all. Large files (FilledByBlocks) not cached yet are lazy: the fd
// is on the sparse partial cache file (FdKind::kLazy), and the shim's read/pread/readv/mmap/
// sendfile/copy_file_range/splice wrappers call PrepareRead/PrepareMap first, which fetch the
// blocks the call needs (plus readahead while reads are sequential); fdopen and stdio complete
// the file, since glibc's stdio reads without a wrapper. A process that inherits a lazy fd
// across exec re-learns it from the cache's presence record.
//
// Operations return an Outcome: a result (fd, count or 0; -errno on failure) or "passthrough":
// libc must make the call itself, on Outcome::real_path when that is set (the caller's path
// rewritten, e.g. because it was relative to a virtual directory), else on the caller's own
// arguments. No exception escapes; errno is not touched (the shim sets it from the Outcome).
//
// Lifetime: Instance() builds the process-wide Vfs lazily on the first prefix hit (config,
// store, cache, index) and never destroys it. Tests build their own with Create().
// Thread-safety: all operations are thread-safe. Fork: PrepareFork/ParentAfterFork/ChildAfterFork
// (the shim registers them with pthread_atfork).
#ifndef HFSHIM_CORE_VFS_VFS_H_
#define HFSHIM_CORE_VFS_VFS_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/cache/content_cache.h"
#include "core/config/config.h"
#include "core/env/env.h"
#include "core/store/object_store.h"
#include "core/vfs/dir_stream.h"
#include "core/vfs/fd_table.h"
#include "core/vfs/generations.h"
#include "core/vfs/metadata.h"
#include "core/vfs/prefix.h"
#include "core/vfs/resolve_cache.h"

namespace hfshim {

struct Outcome {
  int rc = 0;                // >= 0 success; -errno failure
  bool passthrough = false;  // libc must do the call
  std::string real_path;     // passthrough on this absolute path instead of the caller's
  // Stat family: the passthrough lands on the prefix root; its st_nlink is then counted with
  // Vfs::CountUnionSubdirs.
  bool union_root = false;

  static Outcome Pass() { return Outcome{0, true, {}}; }
  static Outcome PassOn(std::string path) { return Outcome{0, true, std::move(path)}; }
  static Outcome Result(int rc) { return Outcome{rc, false, {}}; }
};

// Where a path lands.
struct Location {
  enum Kind { kOutside, kPrefixRoot, kReal, kVirtual } kind = kOutside;
  // The absolute path libc should use when the caller's (dirfd, path) cannot be passed as is
  // (its base was a virtual directory); empty otherwise.
  std::string rewrite;
  // kVirtual: the path relative to the index root, not yet resolved.
  std::string rel;
};

// Kinds of mutation, for the EROFS decisions.
enum class Mutation {
  kCreate,   // mkdir, mknod, mkfifo, symlink/link (new name): EEXIST if present, else EROFS
  kModify,   // chmod, chown, truncate, utime, setxattr: EROFS; ENOENT if missing
  kRemove,   // unlink, rmdir, rename source: EROFS, also for a missing name in a virtual
             // directory (a read-only file system refuses before it looks the name up)
  kReplace,  // rename/link destination: EROFS whether present or not (parent must exist)
};

class Vfs {
 public:
  struct Parts {
    const Prefix* prefix = nullptr;  // must outlive the Vfs
    std::string placeholder_root;    // private runtime dir for placeholder directories
    Env* env = nullptr;              // OS calls of core
    GenerationSource* source = nullptr;
    ContentCache* cache = nullptr;
    double refresh_seconds = 30;
    double timeout_seconds = 60;
    std::string statfs_path;  // statfs of virtual paths reports this file system (the cache's)
    // Resolutions of absolute paths (and directory entries) remembered per generation
    // (core/vfs/resolve_cache.h); 0 disables the memo.
    size_t resolve_cache_entries = 8192;
  };
  static absl::StatusOr<std::unique_ptr<Vfs>> Create(const Parts& parts);

  // The process-wide instance, created on first use from the environment (LoadConfig). nullptr
  // when the shim is disabled or could not start (the cause was logged once); callers then pass
  // through. Blocks while another thread creates it.
  static Vfs* Instance();

  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;
  ~Vfs();

  // ---- routing (locate.cc)
  // Where (dirfd, path) lands. Errors: ENOENT/ENOTDIR/EBADF for a broken base, ENAMETOOLONG.
  absl::StatusOr<Location> Locate(int dirfd, absl::string_view path);

  // ---- path operations (ops.cc). `flags` are the *at() flags (AT_SYMLINK_NOFOLLOW,
  // AT_EMPTY_PATH). An empty path with AT_EMPTY_PATH acts on dirfd.
  Outcome Stat(int dirfd, absl::string_view path, int flags, struct stat* st);
  Outcome Statx(int dirfd, absl::string_view path, int flags, struct statx* stx);
  Outcome Open(int dirfd, absl::string_view path, int flags, mode_t mode);
  Outcome Readlink(int dirfd, absl::string_view path, std::string* target);
  Outcome Realpath(absl::string_view path, std::string* out);
  Outcome Access(int dirfd, absl::string_view path, int mode, int flags);
  Outcome Mutate(Mutation kind, int dirfd, absl::string_view path);
  // Whether (dirfd, path) is a virtual entry: Result(0) if it exists, -errno if the index says
  // it does not, passthrough if it is not virtual (getxattr family: ENODATA on virtual entries).
  Outcome Probe(int dirfd, absl::string_view path, bool follow);
  // The node-cache file holding the complete content of virtual file `path` (materialised
  // first), for consumers that open by path inside libc (dlopen). Passthrough if not virtual.
  Outcome Backing(absl::string_view path, std::string* out);
  // statfs/statvfs: passthrough on the cache file system for virtual paths.
  Outcome Statfs(absl::string_view path);
  // chdir: passthrough on the placeholder of a virtual directory.
  Outcome Chdir(absl::string_view path);
  // getcwd: if `kernel_cwd` is a placeholder, the virtual directory's path; false otherwise.
  bool VirtualCwd(absl::string_view kernel_cwd, std::string* out);

  // ---- fd operations (fd_ops.cc)
  // If `fd` is a virtual content fd or placeholder, replaces the kernel's `*st` (already filled
  // by fstat(fd)) with the virtual metadata and returns true; an fd on the prefix root gets the
  // union's st_nlink (CountUnionSubdirs).
  bool Fstat(int fd, struct stat* st);
  // The prefix root's own metadata is the real directory's (the kernel's, from the caller's own
  // call: Stat's Outcome says union_root), except st_nlink, which counts the union's
  // subdirectories as a local disk holding the repos would: the real directory's (2 + its
  // subdirectories, where the file system counts them) plus one per top-level directory of the
  // index that the real directory has no directory for (union_root.cc). These replace the
  // kernel's st_nlink in `st`/`stx` if they describe the prefix root; true if they did.
  bool CountUnionSubdirs(struct stat* st);
  bool CountUnionSubdirs(struct statx* stx);
  // dup/dup2/dup3/F_DUPFD bookkeeping after a successful duplication, and close.
  void NoteDup(int from, int to);
  void NoteClose(int fd);
  // Lazy fds (lazy_ops.cc). Each returns 0, or -errno (EIO; the cause is logged) when the
  // blocks cannot be fetched. They do nothing for an fd that is not (or no longer) lazy.
  // Before a read of `length` bytes at `offset` (-1: the fd's file offset; `*at`, if given, is
  // set to the offset whose blocks were fetched).
  int PrepareRead(int fd, int64_t offset, uint64_t length, int64_t* at = nullptr);
  // A read at the fd's own offset (read/readv): `read_here` is the real call (returning bytes or
  // -errno). The blocks at the offset are fetched first, with the fd's other offset reads in this
  // process serialised so the offset cannot move in between (the kernel keeps each read atomic
  // on the offset, as without the shim). If a process sharing the open file description moved
  // the offset anyway, the bytes actually read are checked and, if they were not fetched, fetched
  // and read again with `read_at(offset, n)`. Returns bytes read or -errno.
  ssize_t ReadAtOffset(int fd, uint64_t length, const std::function<ssize_t()>& read_here,
                       const std::function<ssize_t(uint64_t, size_t)>& read_at);
  // Before mmap of [offset, offset + length): the whole range, in parallel.
  int PrepareMap(int fd, uint64_t offset, uint64_t length);
  // Fetches the whole file (fdopen/fopen: stdio reads behind our back).
  int CompleteFd(int fd);

  // The virtual directory (relative to the index root) an fd refers to, if it is a placeholder.
  bool PlaceholderDir(int fd, std::string* rel);

  // ---- directories (dirs.cc)
  // Opens a listing of (dirfd, path); passthrough if it is a real directory. On success *fd is
  // an fd for dirfd(): the placeholder (virtual dir) or the real prefix root, opened
  // O_RDONLY | O_DIRECTORY | O_CLOEXEC.
  Outcome OpenDir(int dirfd, absl::string_view path, std::unique_ptr<DirStream>* stream, int* fd);
  // fdopendir: a listing for an fd that is a placeholder or the prefix root; passthrough else.
  Outcome OpenDirFd(int fd, std::unique_ptr<DirStream>* stream);

  // ---- fork (vfs.cc)
  void PrepareFork();
  void ParentAfterFork();
  void ChildAfterFork();
  static void PrepareForkAll();
  static void ParentAfterForkAll();
  static void ChildAfterForkAll();

  const Prefix& prefix() const { return *prefix_; }
  Placeholders& placeholders() { return placeholders_; }
  FdTable& fds() { return fds_; }
  // The current generation (refreshing if due); nullptr when there is no index.
  const Generation* generation() { return generations_.Current(); }
  const ResolveCache& resolve_cache() const { return resolve_cache_; }

 private:
  explicit Vfs(const Parts& parts);

  // Virtual path resolution on the current generation: Resolve with escape handling.
  struct Target {
    bool virtual_entry = false;  // false: passthrough (real_path may be set)
    bool prefix_root = false;    // the real prefix root (union listing)
    std::string real_path;       // when the resolution left the index
    Resolved resolved;
    const IndexReader* reader = nullptr;
    int reentries = 0;  // times the walk left the index and came back
  };
  // Find answers absolute paths from resolve_cache_ when it can (exactly what FindUncached
  // would answer on the same generation), else resolves, and remembers the result if the path
  // was asked for before (ResolveCache::OfferedBefore).
  // `missed_id` set: the caller just looked the path up in resolve_cache_ and missed; it is the
  // key's id (ResolveCacheKeyId), so Find neither probes nor hashes it again.
  absl::StatusOr<Target> Find(int dirfd, absl::string_view path, bool follow,
                              const std::optional<Hash128>& missed_id = std::nullopt);
  absl::StatusOr<Target> FindUncached(int dirfd, absl::string_view path, bool follow);
  // Find of a plainly spelled absolute path from its parent directory's remembered resolution
  // (resolve_cache_ key "P<parent>"): true with *out set when that gives the exact answer,
  // false when the caller must walk the whole path.
  bool FindViaParent(const Generation* gen, absl::string_view path, bool follow,
                     absl::StatusOr<Target>* out);
  // Stat from resolve_cache_ alone (absolute paths): true if remembered, with *out the answer
  // (a failure, a passthrough, or success with *st filled and *canonical, the entry's path, if
  // not null). Counts what Fail and Passthrough count; the caller counts a virtual stat.
  // *missed_id: set to the key's id when the path was looked up and is not remembered (for Find).
  bool StatCached(absl::string_view path, bool follow, struct stat* st, Outcome* out,
                  std::string* canonical, std::optional<Hash128>* missed_id);
  // The index entry at exact path `p` of `gen`, directories remembered in resolve_cache_
  // (`last`: the walk's final component, usually a file: not looked for there first).
  absl::StatusOr<Entry> LookupEntry(const Generation* gen, absl::string_view p, bool last = false);
  // LookupEntry, plus the union's real top-level names as symlinks out of the root.
  absl::StatusOr<Entry> LookupInUnion(const Generation* gen, absl::string_view p,
                                      bool last = false);
  // `depth`: escapes above the prefix root so far (RouteRel follows them back in).
  absl::StatusOr<Location> Route(absl::string_view abs, bool base_virtual, int depth = 0);
  absl::StatusOr<Location> RouteRel(absl::string_view rel, bool base_virtual, int depth);
  absl::StatusOr<std::string> Materialize(const Resolved& r, const IndexReader& reader);
  // ---- a virtual fd spelled as a path (fd_link_ops.cc; ParseFdLink): "/proc/self/fd/N",
  // "/dev/fd/N/rest", "/dev/stdin"... The kernel resolves these to the node-cache file or
  // placeholder behind fd N, so they are answered from the fd: a reopen gets the fd's virtual
  // identity (and, for a lazy fd, fetches before reads), a stat its virtual metadata, and
  // writes fail as on a read-only file system instead of reaching the cache file.
  // (The paths are recognised by VirtualFdLink, core/vfs/path_router.h.)
  Outcome OpenFdLink(int fd, absl::string_view path, absl::string_view rest, int flags,
                     mode_t mode);
  Outcome StatFdLink(int fd, absl::string_view rest, int flags, struct stat* st);
  // readlink of the link itself: the virtual path fd `fd` is open on, as the kernel names a
  // file it opened (the prefix's real path, the blob a snapshot path led to); Pass when that is
  // not known (a generation that no longer has it), leaving the kernel's answer.
  Outcome ReadlinkFdLink(int fd, std::string* target);
  // The path, relative to the index root, of the virtual entry content fd `fd` (of kind `kind`,
  // its kernel stat `st`) is open on: the file with its content and inode in the current
  // generation. A scan of the index's paths (readlink of an fd is rare); false if none.
  bool ContentPathOfFd(int fd, FdKind kind, const struct stat& st, std::string* rel);
  Outcome AccessFdLink(int fd, absl::string_view rest, int mode, int flags);
  Outcome MutateFdLink(Mutation kind, int fd, absl::string_view rest);
  // access(2) of an entry with mode `m` (the caller's identity_): EROFS for W_OK, else EACCES
  // as the kernel would decide from the mode bits.
  Outcome CheckAccess(mode_t m, int mode) const;

  // Open's hot path: an absolute path remembered in resolve_cache_ as a complete file whose
  // content is in the node cache is opened with one lookup and one openat, allocating nothing.
  // False (nothing done) when that does not apply; Open's full path then answers, and
  // *missed_id is set to the key's id when resolve_cache_ was probed and had nothing for the path
  // (for Find: no second probe, no second hash).
  bool OpenRemembered(absl::string_view path, int flags, Outcome* out,
                      std::optional<Hash128>* missed_id);
  // Complete content `hash` opened from the node cache with the caller's kept `flags` (a hit is
  // counted and profiled under `path`, which may be empty when profiling is off); NotFound if it
  // is not cached.
  absl::StatusOr<int> OpenCachedContent(const Hash128& hash, int flags, absl::string_view path,
                                        uint64_t size);
  // The last step of every open of complete content (`fd` already close-on-exec as asked): fd
  // table, hint, counters.
  Outcome FinishContentOpen(int fd, const ContentFd& record, uint64_t size);
  // The fd-table record of a content fd opened on `entry` (backing identity dev/ino, 0 if not
  // known yet).
  ContentFd ContentRecord(const Entry& entry, dev_t dev, ino_t ino) const;
  // open(O_PATH | O_NOFOLLOW) of virtual symlink `r`: an fd on a real symlink with its target
  // (Placeholders::LinkFor), whose fstat reports the index's metadata of the link.
  Outcome OpenSymlinkPath(const Resolved& r, int flags);
  // Open of a large file that is not cached yet: a lazy fd, or -errno.
  Outcome OpenLazy(const Resolved& r, int kept_flags, int flags);
  // The fill state of lazy fd `fd`, re-learnt from /proc/self/fd when inherited across exec.
  std::shared_ptr<LazyFd> LazyState(int fd);
  int EnsureLazy(int fd, LazyFd& lazy, uint64_t offset, uint64_t length);
  // Lazy fd `fd`'s content is complete: from now on plain passthrough, with the kernel's
  // readahead back on (OpenLazy turned it off while the file had holes).
  void LazyFdComplete(int fd);
  // Fetches [offset, offset + length) of a lazy fd's content on a detached thread, unless it is
  // present or a readahead of the fd is already running. The thread holds `lazy` (and through
  // it the content), so closing the fd meanwhile is safe; the cache lives as long as the Vfs.
  void StartReadahead(const std::shared_ptr<LazyFd>& lazy, uint64_t offset, uint64_t length);
  uint64_t PrefixRootIno();

  const Prefix* prefix_;
  Env* env_;
  ContentCache* cache_;
  double timeout_seconds_;
  std::string statfs_path_;
  std::atomic<uint64_t> prefix_root_ino_{0};
  // CountUnionSubdirs' last answer, for the generation and the real directory (its ctime and
  // nlink) it counted.
  // Taken with TryLock only: a caller that finds it busy counts again (also in a fork child
  // whose parent held it).
  struct UnionNlink {
    const Generation* gen = nullptr;
    int64_t ctime_ns = 0;
    nlink_t real = 0;
    nlink_t extra = 0;
  };
  absl::Mutex union_nlink_mu_;
  UnionNlink union_nlink_ ABSL_GUARDED_BY(union_nlink_mu_);
  Generations generations_;
  Placeholders placeholders_;
  FdTable fds_;
  StatIdentity identity_;
  ResolveCache resolve_cache_;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_VFS_H_
