#include "core/vfs/tree_walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace hfshim {
namespace {

constexpr int kKnownFlags = FTW_PHYS | FTW_MOUNT | FTW_CHDIR | FTW_DEPTH | FTW_ACTIONRETVAL;

// Closes `fd` keeping errno.
void CloseQuietly(int fd) {
  const int saved = errno;
  close(fd);
  errno = saved;
}

class Walker {
 public:
  Walker(TreeWalkVisit visit, int flags) : visit_(visit), flags_(flags) {}

  int Run(const char* path) {
    path_ = path;
    while (path_.size() > 1 && path_.back() == '/') path_.pop_back();
    const size_t slash = path_.rfind('/');
    ftw_.base = slash == std::string::npos ? 0 : static_cast<int>(slash + 1);
    ftw_.level = 0;
    int cwd = -1;
    if (Has(FTW_CHDIR)) {
      cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (cwd < 0) return -1;
      int rc = 0;
      if (ftw_.base == 1) {
        rc = chdir("/");
      } else if (ftw_.base > 1) {
        rc = chdir(path_.substr(0, ftw_.base - 1).c_str());
      }
      if (rc != 0) {
        CloseQuietly(cwd);
        return -1;
      }
    }
    int result = Root();
    if (Has(FTW_ACTIONRETVAL) && (result == FTW_SKIP_SUBTREE || result == FTW_SKIP_SIBLINGS)) {
      result = 0;
    }
    if (cwd >= 0) {
      const int saved = errno;
      if (fchdir(cwd) != 0) result = -1;
      close(cwd);
      errno = saved;
    }
    return result;
  }

 private:
  bool Has(int flag) const { return (flags_ & flag) != 0; }

  // The name to stat or open the current entry by: relative to the working directory (its
  // parent) with FTW_CHDIR, else the whole path.
  std::string Name() const {
    if (!Has(FTW_CHDIR)) return path_;
    std::string name = path_.substr(ftw_.base);
    return name.empty() ? "." : name;
  }

  int Stat(const std::string& name, struct stat* st, bool follow) const {
    return follow ? stat(name.c_str(), st) : lstat(name.c_str(), st);
  }

  int Visit(const struct stat& st, int type) { return visit_(path_.c_str(), &st, type, &ftw_); }

  int Root() {
    struct stat st;
    const std::string name = Name();
    if (Stat(name, &st, !Has(FTW_PHYS)) != 0) {
      if (!Has(FTW_PHYS) && errno == ENOENT && Stat(name, &st, false) == 0 && S_ISLNK(st.st_mode)) {
        return Visit(st, FTW_SLN);
      }
      return -1;  // nothing to say about it: errno from the stat
    }
    if (!S_ISDIR(st.st_mode)) return Visit(st, S_ISLNK(st.st_mode) ? FTW_SL : FTW_F);
    dev_ = st.st_dev;
    if (!Has(FTW_PHYS)) seen_.insert({st.st_dev, st.st_ino});
    return Dir(st, -1);
  }

  // The directory at path_ (stat `st`), then its entries; `parent_fd` is the directory to
  // return to with FTW_CHDIR (-1 for the root).
  int Dir(const struct stat& st, int parent_fd) {
    DIR* stream = opendir(Name().c_str());
    if (stream == nullptr) return errno == EACCES ? Visit(st, FTW_DNR) : -1;
    std::vector<std::string> names;
    while (struct dirent64* d = readdir64(stream)) {
      const char* n = d->d_name;
      if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
      names.emplace_back(n);
    }
    int own_fd = -1;  // this directory, to come back to from its subdirectories (FTW_CHDIR)
    if (Has(FTW_CHDIR)) own_fd = fcntl(dirfd(stream), F_DUPFD_CLOEXEC, 0);
    {
      const int saved = errno;
      closedir(stream);
      errno = saved;
    }
    int result = Has(FTW_DEPTH) ? 0 : Visit(st, FTW_D);
    if (result == 0 && Has(FTW_CHDIR) && (own_fd < 0 || fchdir(own_fd) != 0)) result = -1;
    if (result != 0) {
      if (own_fd >= 0) CloseQuietly(own_fd);
      return result;
    }
    const int previous_base = ftw_.base;
    const size_t previous_size = path_.size();
    ++ftw_.level;
    if (path_.back() != '/') path_ += '/';
    ftw_.base = static_cast<int>(path_.size());
    for (const std::string& name : names) {
      result = Entry(name, own_fd);
      if (result != 0) break;
    }
    if (Has(FTW_ACTIONRETVAL) && result == FTW_SKIP_SIBLINGS) result = 0;
    path_.resize(previous_size);
    --ftw_.level;
    ftw_.base = previous_base;
    if (result == 0 && Has(FTW_DEPTH)) result = Visit(st, FTW_DP);
    if (parent_fd >= 0 && Has(FTW_CHDIR) &&
        (result == 0 || (Has(FTW_ACTIONRETVAL) && result != -1 && result != FTW_STOP))) {
      if (fchdir(parent_fd) != 0) result = -1;
    }
    if (own_fd >= 0) CloseQuietly(own_fd);
    return result;
  }

  // Entry `name` of the directory whose path (with its slash) is path_[0, ftw_.base).
  int Entry(const std::string& name, int dir_fd) {
    path_.resize(ftw_.base);
    path_ += name;
    const std::string stat_name = Has(FTW_CHDIR) ? name : path_;
    struct stat st;
    int type;
    if (Stat(stat_name, &st, !Has(FTW_PHYS)) != 0) {
      if (errno != EACCES && errno != ENOENT) return -1;
      std::memset(&st, 0, sizeof(st));
      type = FTW_NS;
      if (!Has(FTW_PHYS) && Stat(stat_name, &st, false) == 0 && S_ISLNK(st.st_mode)) {
        type = FTW_SLN;
      }
    } else {
      type = S_ISDIR(st.st_mode) ? FTW_D : S_ISLNK(st.st_mode) ? FTW_SL : FTW_F;
    }
    int result = 0;
    if (type == FTW_NS || !Has(FTW_MOUNT) || st.st_dev == dev_) {
      if (type != FTW_D) {
        result = Visit(st, type);
      } else if (Has(FTW_PHYS) || seen_.insert({st.st_dev, st.st_ino}).second) {
        result = Dir(st, dir_fd);  // else visited already (a symlink cycle): not again
      }
    }
    if (Has(FTW_ACTIONRETVAL) && result == FTW_SKIP_SUBTREE) result = 0;
    return result;
  }

  const TreeWalkVisit visit_;
  const int flags_;
  std::string path_;  // the entry being visited
  struct FTW ftw_ {};
  dev_t dev_ = 0;                                      // of the root directory (FTW_MOUNT)
  absl::flat_hash_set<std::pair<dev_t, ino_t>> seen_;  // directories entered (without FTW_PHYS)
};

}  // namespace

int WalkFileTree(const char* path, TreeWalkVisit visit, int flags) {
  if (path == nullptr || path[0] == '\0') {
    errno = ENOENT;
    return -1;
  }
  if ((flags & ~kKnownFlags) != 0) {
    errno = EINVAL;
    return -1;
  }
  try {
    Walker walker(visit, flags);
    return walker.Run(path);
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return -1;
  }
}

int FtwTypeflag(int nftw_typeflag) {
  switch (nftw_typeflag) {
    case FTW_SL:
      return FTW_F;
    case FTW_DP:
      return FTW_D;
    case FTW_SLN:
      return FTW_NS;
    default:
      return nftw_typeflag;
  }
}

}  // namespace hfshim
