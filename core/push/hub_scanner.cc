#include "core/push/hub_scanner.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/index/index_writer.h"
#include "core/push/repo_id.h"

namespace hfshim {
namespace {

absl::Status Refuse(const std::string& path, absl::string_view why, absl::string_view fix) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why, "; ", fix));
}

bool Skipped(absl::string_view name) {
  return absl::EndsWith(name, ".incomplete") || absl::EndsWith(name, ".lock");
}

// Whether relative `target`, read from the directory of `rel_path`, stays inside its repo.
bool StaysInRepo(absl::string_view rel_path, absl::string_view target) {
  std::vector<absl::string_view> dir = absl::StrSplit(rel_path, '/');
  dir.pop_back();  // the link itself
  for (absl::string_view c : absl::StrSplit(target, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (dir.size() <= 1) return false;  // would leave the repo directory
      dir.pop_back();
    } else {
      dir.push_back(c);
    }
  }
  return true;
}

class Scanner {
 public:
  Scanner(Env* env, std::string hub) : env_(env), hub_(std::move(hub)) {}

  absl::Status Walk(const std::string& rel, std::vector<ScannedEntry>* out) {
    const std::string local = absl::StrCat(hub_, "/", rel);
    if (!IsUtf8(rel)) {
      return Refuse(local, "the name is not valid UTF-8", "rename it or remove it");
    }
    struct stat st;
    absl::Status s = env_->Lstat(local, &st);
    if (!s.ok()) return Refuse(local, s.message(), "check that it is readable");
    ScannedEntry e;
    e.rel_path = rel;
    e.local_path = local;
    e.entry.mode = st.st_mode;
    e.entry.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    e.entry.ino = InodeForPath(rel);
    if (S_ISDIR(st.st_mode)) {
      e.entry.type = EntryType::kDirectory;
      e.entry.nlink = 0;                                 // the index writer counts subdirectories
      e.entry.size = static_cast<uint64_t>(st.st_size);  // as the local file system reports
      auto names = env_->ListDir(local);
      if (!names.ok()) {
        return Refuse(local, names.status().message(), "make the directory readable");
      }
      out->push_back(std::move(e));
      for (const std::string& name : *names) {
        if (Skipped(name)) continue;
        RETURN_IF_ERROR(Walk(absl::StrCat(rel, "/", name), out));
      }
    } else if (S_ISLNK(st.st_mode)) {
      ASSIGN_OR_RETURN(std::string target, env_->ReadLink(local));
      if (!target.empty() && target[0] == '/') {
        return Refuse(local, absl::StrCat("absolute symlink to ", target),
                      "hub caches use relative links (../../blobs/<hash>); replace it");
      }
      if (!StaysInRepo(rel, target)) {
        return Refuse(local, absl::StrCat("symlink to ", target, " leaves its repo"),
                      "point it inside the repo or remove it");
      }
      if (!IsUtf8(target)) return Refuse(local, "symlink target is not UTF-8", "fix the link");
      e.entry.type = EntryType::kSymlink;
      e.entry.size = target.size();
      e.entry.symlink_target = std::move(target);
      out->push_back(std::move(e));
    } else if (S_ISREG(st.st_mode)) {
      auto fd = env_->Open(local, O_RDONLY);
      if (!fd.ok()) return Refuse(local, fd.status().message(), "make the file readable");
      env_->Close(*fd).IgnoreError();
      e.entry.type = EntryType::kFile;
      e.entry.size = static_cast<uint64_t>(st.st_size);
      out->push_back(std::move(e));
    } else {
      return Refuse(local, "is a fifo, socket or device",
                    "hub caches hold only files, "
                    "directories and symlinks: remove it");
    }
    return absl::OkStatus();
  }

 private:
  Env* env_;
  std::string hub_;
};

}  // namespace

bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t continuation;
    if (c < 0x80) {
      continuation = 0;
    } else if ((c >> 5) == 0x6) {
      continuation = 1;
    } else if ((c >> 4) == 0xe) {
      continuation = 2;
    } else if ((c >> 3) == 0x1e) {
      continuation = 3;
    } else {
      return false;
    }
    if (i + continuation >= s.size() && continuation > 0) return false;
    for (size_t k = 1; k <= continuation; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += continuation + 1;
  }
  return true;
}

absl::StatusOr<std::vector<ScannedRepo>> ScanHubCache(Env* env, const std::string& hub_dir,
                                                      const std::vector<std::string>& repo_dirs) {
  auto names = env->ListDir(hub_dir);
  if (!names.ok()) {
    return absl::Status(names.status().code(), absl::StrCat("cannot read hub cache ", hub_dir, ": ",
                                                            names.status().message(),
                                                            "; pass the hub cache directory (e.g. "
                                                            "~/.cache/huggingface/hub)"));
  }
  std::vector<std::string> chosen;
  for (const std::string& n : *names) {
    if (!IsRepoDirName(n)) continue;
    if (repo_dirs.empty() || std::find(repo_dirs.begin(), repo_dirs.end(), n) != repo_dirs.end()) {
      chosen.push_back(n);
    }
  }
  for (const std::string& wanted : repo_dirs) {
    if (std::find(chosen.begin(), chosen.end(), wanted) == chosen.end()) {
      return absl::NotFoundError(absl::StrCat("repo ", wanted, " is not in ", hub_dir));
    }
  }
  std::sort(chosen.begin(), chosen.end());
  std::vector<ScannedRepo> repos;
  Scanner scanner(env, hub_dir);
  for (const std::string& dir : chosen) {
    ScannedRepo repo;
    repo.dir_name = dir;
    RETURN_IF_ERROR(scanner.Walk(dir, &repo.entries));
    std::sort(repo.entries.begin(), repo.entries.end(),
              [](const ScannedEntry& a, const ScannedEntry& b) { return a.rel_path < b.rel_path; });
    repos.push_back(std::move(repo));
  }
  return repos;
}

}  // namespace hfshim
