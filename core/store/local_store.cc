#include "core/store/local_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/env/file_util.h"

namespace hfshim {
namespace {

constexpr size_t kCopyChunk = 1 << 20;

// A file's etag: its modification time, size and inode (puts write a new file and rename it
// into place, so rewritten bytes get another inode or time), as a static web server makes one.
std::string EtagOf(const struct stat& st) {
  return absl::StrCat(absl::Hex(st.st_mtim.tv_sec), ".", absl::Hex(st.st_mtim.tv_nsec), "-",
                      absl::Hex(st.st_size), "-", absl::Hex(st.st_ino));
}

class LocalStore final : public ObjectStore {
 public:
  LocalStore(std::string root, Env* env) : root_(std::move(root)), env_(env) {}

  absl::Status GetRange(absl::string_view key, uint64_t offset, uint64_t length, std::string* out,
                        absl::Time deadline) override {
    out->resize(length);
    BufferSink sink(absl::MakeSpan(*out));
    absl::Status s = GetRangeTo(key, offset, length, &sink, deadline);
    if (!s.ok()) out->clear();
    return s;
  }

  // Reads straight into the sink's memory: no copy between the file and the sink.
  absl::Status GetRangeTo(absl::string_view key, uint64_t offset, uint64_t length, RangeSink* sink,
                          absl::Time) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const std::string path = PathOf(key);
    auto fd = env_->Open(path, O_RDONLY);
    if (!fd.ok()) return Annotate(fd.status(), key);
    struct stat st;
    absl::Status s = env_->Fstat(*fd, &st);
    if (s.ok() && offset + length > static_cast<uint64_t>(st.st_size)) {
      s = absl::OutOfRangeError(absl::StrCat("range ", offset, "+", length, " ends past ",
                                             Describe(), "/", key, " (", st.st_size, " bytes)"));
    }
    absl::Status sink_status;  // returned as the sink said it
    uint64_t done = 0;
    while (s.ok() && sink_status.ok() && done < length) {
      const absl::Span<char> room = sink->Room();
      if (room.empty()) {
        s = absl::InternalError("the sink has no room for the rest of the range");
        break;
      }
      auto n = env_->Pread(*fd, room.data(), std::min<uint64_t>(room.size(), length - done),
                           offset + done);
      if (!n.ok()) {
        s = n.status();
      } else if (*n == 0) {
        s = absl::DataLossError(absl::StrCat(Describe(), "/", key, " shrank while reading"));
      } else {
        done += *n;
        sink_status = sink->Filled(*n);
      }
    }
    env_->Close(*fd).IgnoreError();
    if (!sink_status.ok()) return sink_status;
    return s.ok() ? s : Annotate(s, key);
  }

  absl::StatusOr<ObjectInfo> Head(absl::string_view key, absl::Time) override {
    RETURN_IF_ERROR(ValidateKey(key));
    struct stat st;
    absl::Status s = env_->Stat(PathOf(key), &st);
    if (!s.ok()) return Annotate(s, key);
    return ObjectInfo{std::string(key), static_cast<uint64_t>(st.st_size), EtagOf(st)};
  }

  absl::Status Put(absl::string_view key, absl::string_view data, absl::Time) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const std::string path = PathOf(key);
    RETURN_IF_ERROR(Writable(MakeDirs(env_, Dirname(path))));
    return Writable(WriteFileAtomic(env_, path, data));
  }

  absl::Status PutFile(absl::string_view key, const std::string& local_path, absl::Time) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const std::string path = PathOf(key);
    RETURN_IF_ERROR(Writable(MakeDirs(env_, Dirname(path))));
    const std::string tmp = TempPathFor(path);
    RETURN_IF_ERROR(Writable(CopyTo(local_path, tmp)));
    absl::Status s = env_->Rename(tmp, path);
    if (!s.ok()) env_->Unlink(tmp).IgnoreError();
    return Writable(s);
  }

  absl::Status PutIfAbsent(absl::string_view key, absl::string_view data, absl::Time) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const std::string path = PathOf(key);
    RETURN_IF_ERROR(Writable(MakeDirs(env_, Dirname(path))));
    const std::string tmp = TempPathFor(path);
    absl::Status s = WriteFileAtomic(env_, tmp, data);
    if (s.ok()) s = env_->Link(tmp, path);
    env_->Unlink(tmp).IgnoreError();
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat(Describe(), "/", key, " already exists"));
    }
    return Writable(s);
  }

  absl::StatusOr<std::vector<ObjectInfo>> List(absl::string_view prefix, absl::Time) override {
    std::vector<ObjectInfo> out;
    // Walk only the directory the prefix names (e.g. "heads/" walks <root>/heads).
    size_t slash = prefix.rfind('/');
    std::string dir = slash == absl::string_view::npos ? "" : std::string(prefix.substr(0, slash));
    struct stat st;
    if (!env_->Stat(root_, &st).ok()) {  // not "empty": that would hide a typo or a lost mount
      return absl::FailedPreconditionError(absl::StrCat(
          "store directory ", root_,
          " does not exist; check the path in --store or "
          "HFSHIM_STORE and that its file system is mounted (hfshim-push creates a new store)"));
    }
    RETURN_IF_ERROR(Walk(dir, prefix, &out));
    std::sort(out.begin(), out.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  absl::Status EnsureCreated(absl::Time) override {
    absl::Status s = MakeDirs(env_, root_);
    if (s.ok()) return s;
    return absl::Status(s.code(),
                        absl::StrCat("cannot create the store directory ", root_, ": ", s.message(),
                                     "; give a writable directory in --store "
                                     "file:///DIR or HFSHIM_STORE"));
  }

  std::string Describe() const override { return "file://" + root_; }

 private:
  std::string PathOf(absl::string_view key) const { return absl::StrCat(root_, "/", key); }
  static std::string Dirname(const std::string& p) { return p.substr(0, p.rfind('/')); }

  absl::Status Annotate(const absl::Status& s, absl::string_view key) const {
    if (absl::IsNotFound(s)) {
      return PosixError(ENOENT, absl::StrCat("object ", key, " is missing from ", Describe()));
    }
    return absl::Status(s.code(), absl::StrCat(Describe(), "/", key, ": ", s.message()));
  }

  // Adds the cause and the fix to errors of writes into the store.
  absl::Status Writable(const absl::Status& s) const {
    if (s.ok()) return s;
    const int err = StatusToErrno(s);
    if (err == EACCES || err == EPERM || err == EROFS || err == ENOTDIR) {
      return PosixError(err, absl::StrCat("store ", Describe(), " is not writable (", s.message(),
                                          "); check the directory's owner and mode, or choose "
                                          "another store with --store or HFSHIM_STORE"));
    }
    if (err == ENOSPC || err == EDQUOT) {
      return PosixError(err, absl::StrCat("store ", Describe(), " is full (", s.message(),
                                          "); free space there or choose another store"));
    }
    return s;
  }

  absl::Status CopyTo(const std::string& from, const std::string& to) {
    ASSIGN_OR_RETURN(int in, env_->Open(from, O_RDONLY));
    auto out = env_->Open(to, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (!out.ok()) {
      env_->Close(in).IgnoreError();
      return out.status();
    }
    std::string buf(kCopyChunk, '\0');
    uint64_t off = 0;
    absl::Status s;
    while (s.ok()) {
      auto n = env_->Pread(in, buf.data(), buf.size(), off);
      if (!n.ok()) {
        s = n.status();
        break;
      }
      if (*n == 0) break;
      s = WriteAll(env_, *out, absl::string_view(buf.data(), *n), off);
      off += *n;
    }
    if (s.ok()) s = env_->Fsync(*out);
    env_->Close(in).IgnoreError();
    absl::Status c = env_->Close(*out);
    if (s.ok()) s = c;
    if (!s.ok()) env_->Unlink(to).IgnoreError();
    return s;
  }

  absl::Status Walk(const std::string& rel_dir, absl::string_view prefix,
                    std::vector<ObjectInfo>* out) {
    const std::string dir = rel_dir.empty() ? root_ : PathOf(rel_dir);
    auto names = env_->ListDir(dir);
    if (!names.ok()) {
      if (absl::IsNotFound(names.status())) return absl::OkStatus();  // nothing stored there
      return absl::Status(
          names.status().code(),
          absl::StrCat("store ", Describe(), " cannot be read (", names.status().message(),
                       "); check the path, or choose another store with "
                       "--store or HFSHIM_STORE"));
    }
    for (const std::string& name : *names) {
      if (name.find(".tmp.") != std::string::npos) continue;  // an unfinished put
      const std::string key = rel_dir.empty() ? name : absl::StrCat(rel_dir, "/", name);
      if (!absl::StartsWith(key, prefix) && !absl::StartsWith(prefix, key + "/")) continue;
      struct stat st;
      if (!env_->Stat(PathOf(key), &st).ok()) continue;  // removed meanwhile
      if (S_ISDIR(st.st_mode)) {
        RETURN_IF_ERROR(Walk(key, prefix, out));
      } else if (absl::StartsWith(key, prefix)) {
        out->push_back(ObjectInfo{key, static_cast<uint64_t>(st.st_size), EtagOf(st)});
      }
    }
    return absl::OkStatus();
  }

  const std::string root_;
  Env* const env_;
};

}  // namespace

absl::Status ValidateKey(absl::string_view key) {
  if (key.empty() || key.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat("object key '", key, "' is not relative"));
  }
  for (absl::string_view part : absl::StrSplit(key, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("object key '", key, "' has an empty, '.' or '..' component"));
    }
  }
  return absl::OkStatus();
}

std::unique_ptr<ObjectStore> NewLocalStore(const std::string& root, Env* env) {
  return std::make_unique<LocalStore>(root, env);
}

}  // namespace hfshim
