#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/cache/disk_cache.h"
#include "core/cache/partial_file.h"
#include "core/env/file_util.h"

namespace hfshim {
namespace {

struct CachedFile {
  std::string path;  // a complete file, or the data file of a partial pair
  uint64_t bytes;    // allocated bytes (a partial data file is sparse)
  int64_t used;      // mtime in ns: refreshed on hits and by block fills
};

constexpr size_t kHashHexLength = 32;

constexpr int64_t kStaleSeconds = 3600;  // a temp or lock file untouched this long is garbage

// True if `name` (in a content shard) is a leftover that no live fill needs: a temp file whose
// writer process is gone or that has not been written to for an hour, or an hour-old lock file
// whose content is not being filled (a lock file removed under a waiter costs at most a second
// fetch: fills always rename complete verified files into place), or a window link whose
// process is gone (it no longer resolves, or not to a regular file) or that is an hour old (its
// writer died before removing it and its pid was reused; a reader verifies what it takes).
bool IsGarbage(const std::string& path, const std::string& name, const struct stat& st) {
  const bool old = time(nullptr) - st.st_mtime > kStaleSeconds;
  const size_t tmp = name.find(".tmp.");
  if (tmp != std::string::npos) {
    int pid = 0;
    const size_t dot = name.find('.', tmp + 5);
    if (old || !absl::SimpleAtoi(name.substr(tmp + 5, dot - tmp - 5), &pid) || pid <= 0) {
      return true;
    }
    return kill(pid, 0) != 0 && errno == ESRCH;
  }
  if (absl::EndsWith(name, kWindowSuffix)) {
    struct stat target;
    return old || stat(path.c_str(), &target) != 0 || !S_ISREG(target.st_mode);
  }
  return absl::EndsWith(name, ".lock") && old;
}

bool IsPartialData(const std::string& name) {
  return name.size() == kHashHexLength + kPartialSuffix.size() &&
         absl::EndsWith(name, kPartialSuffix);
}

// A presence record whose data file is gone (eviction interrupted, or a crash while creating
// the pair) and that nobody has touched for an hour.
bool IsOrphanRecord(const std::string& dir, const std::string& name, const struct stat& st) {
  if (name.size() != kHashHexLength + kRecordSuffix.size() ||
      !absl::EndsWith(name, kRecordSuffix)) {
    return false;
  }
  struct stat data;
  const std::string data_path =
      dir + "/" + name.substr(0, kHashHexLength) + std::string(kPartialSuffix);
  return time(nullptr) - st.st_mtime > kStaleSeconds && stat(data_path.c_str(), &data) != 0;
}

// Deletes a cached file; for a partial pair the record goes first, so that no reader can pair it
// with a data file created later (PartialFile).
bool Delete(const CachedFile& f) {
  if (absl::EndsWith(f.path, kPartialSuffix)) {
    const std::string record =
        f.path.substr(0, f.path.size() - kPartialSuffix.size()) + std::string(kRecordSuffix);
    unlink(record.c_str());
  }
  return unlink(f.path.c_str()) == 0;
}

void Collect(const std::string& dir, std::vector<CachedFile>* out) {
  auto shards = Env::Default()->ListDir(dir + "/content");
  if (!shards.ok()) return;
  for (const std::string& shard : *shards) {
    const std::string sdir = dir + "/content/" + shard;
    auto names = Env::Default()->ListDir(sdir);
    if (!names.ok()) continue;
    for (const std::string& name : *names) {
      struct stat st;
      const std::string p = sdir + "/" + name;
      if (lstat(p.c_str(), &st) != 0 || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) continue;
      if (S_ISLNK(st.st_mode) || (name.size() != kHashHexLength && !IsPartialData(name))) {
        // temp, lock, record files, window links
        if (IsGarbage(p, name, st) || IsOrphanRecord(sdir, name, st)) unlink(p.c_str());
        continue;
      }
      out->push_back({p, static_cast<uint64_t>(st.st_blocks) * 512,
                      st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec});
    }
  }
}

bool LowOnSpace(const std::string& dir, double free_ratio) {
  struct statvfs v;
  if (statvfs(dir.c_str(), &v) != 0 || v.f_blocks == 0) return false;
  return static_cast<double>(v.f_bavail) / static_cast<double>(v.f_blocks) < free_ratio;
}

// Whether any of `dirs` is on a file system with less than `free_ratio` free.
bool AnyLowOnSpace(const std::vector<std::string>& dirs, double free_ratio) {
  for (const std::string& d : dirs) {
    if (LowOnSpace(d, free_ratio)) return true;
  }
  return false;
}

}  // namespace

absl::Status PrepareCacheDir(Env* env, const std::string& dir) {
  absl::Status s = MakeDirs(env, dir, 0700);
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("cannot create cache directory ", dir, ": ", s.message(),
                                     "; set HFSHIM_CACHE_DIR to a "
                                     "writable directory"));
  }
  struct stat st;
  RETURN_IF_ERROR(env->Stat(dir, &st));
  if ((st.st_mode & 022) != 0 || st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cache directory ", dir,
        " is writable by other users or owned by someone else, so "
        "content there cannot be trusted; chmod 700 it or set HFSHIM_CACHE_DIR to a private "
        "directory"));
  }
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("cache directory %s is not writable by this user (mode %04o); chmod "
                        "u+rwx it or set HFSHIM_CACHE_DIR to a writable directory",
                        dir, st.st_mode & 07777));
  }
  return absl::OkStatus();
}

int EvictLeastRecentlyUsed(const std::vector<std::string>& dirs, uint64_t max_bytes,
                           double free_ratio, absl::Duration keep_recent, bool* still_over) {
  if (still_over != nullptr) *still_over = false;
  const int64_t recent_ns = absl::ToUnixNanos(absl::Now() - keep_recent);
  std::vector<CachedFile> files;
  for (const std::string& d : dirs) Collect(d, &files);
  uint64_t total = 0;
  for (const auto& f : files) total += f.bytes;
  if (total <= max_bytes && !AnyLowOnSpace(dirs, free_ratio)) return 0;
  std::sort(files.begin(), files.end(),
            [](const CachedFile& a, const CachedFile& b) { return a.used < b.used; });
  int deleted = 0;
  bool over = true;
  for (const auto& f : files) {
    if (total <= max_bytes && !AnyLowOnSpace(dirs, free_ratio)) {
      over = false;
      break;
    }
    // Recent content goes only for HFSHIM_CACHE_SIZE, which the cache alone fills; a file
    // system short of free space because of other data does not take it (sorted by use: all
    // the rest is recent too).
    if (total <= max_bytes && f.used >= recent_ns) break;
    if (Delete(f)) {
      total -= std::min(total, f.bytes);
      ++deleted;
    }
  }
  if (over && still_over != nullptr) {
    *still_over = total > max_bytes || AnyLowOnSpace(dirs, free_ratio);
  }
  return deleted;
}

}  // namespace hfshim
