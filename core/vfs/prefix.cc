#include "core/vfs/prefix.h"

#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/base/hot_path.h"
#include "core/vfs/raw_syscall.h"

namespace hfshim {
namespace {

// A fixed-capacity string builder. PRELOAD-SAFE.
class Buf {
 public:
  Buf(char* data, size_t cap) : data_(data), cap_(cap) { data_[0] = '\0'; }
  void Append(absl::string_view s) {
    if (len_ + s.size() + 1 > cap_) {
      overflow_ = true;
      return;
    }
    std::memcpy(data_ + len_, s.data(), s.size());
    len_ += s.size();
    data_[len_] = '\0';
  }
  size_t len() const { return len_; }
  bool ok() const { return !overflow_; }

 private:
  char* data_;
  size_t cap_;
  size_t len_ = 0;
  bool overflow_ = false;
};

bool Set(const char* v) { return v != nullptr && *v != '\0'; }

// HOME as settings.cc's HomeDir() finds it: $HOME, else the password database, else "/".
void AppendHome(GetenvFn getenv_fn, Buf* out) {
  if (const char* home = getenv_fn("HOME"); Set(home)) return out->Append(home);
  char pwbuf[1024];
  passwd pw;
  passwd* result = nullptr;
  if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &result) == 0 && result && pw.pw_dir) {
    return out->Append(pw.pw_dir);
  }
  out->Append("/");
}

// settings.cc's Absolute(): expands a leading "~", makes a relative path absolute against the
// working directory, collapses "//" and drops trailing '/'. `raw` is the unexpanded path.
size_t Absolute(GetenvFn getenv_fn, absl::string_view raw, char* out, size_t cap) {
  char tmp[kVfsPathMax];
  Buf b(tmp, sizeof(tmp));
  if (raw == "~" || (raw.size() >= 2 && raw[0] == '~' && raw[1] == '/')) {
    AppendHome(getenv_fn, &b);
    b.Append(raw.substr(1));
  } else {
    b.Append(raw);
  }
  if (!b.ok()) return 0;
  absl::string_view path(tmp, b.len());
  char joined[kVfsPathMax];
  if (!path.empty() && path[0] != '/' && path[0] != '~') {
    char cwd[kVfsPathMax];
    // PRELOAD-SAFE: the raw syscall neither allocates nor re-enters the shim.
    long n = RawSyscall(SYS_getcwd, cwd, sizeof(cwd));
    if (n > 0) {
      Buf j(joined, sizeof(joined));
      j.Append(cwd);
      j.Append("/");
      j.Append(path);
      if (!j.ok()) return 0;
      path = absl::string_view(joined, j.len());
    }
  }
  size_t n = 0;
  for (char c : path) {
    if (c == '/' && n > 0 && out[n - 1] == '/') continue;
    if (n + 1 >= cap) return 0;
    out[n++] = c;
  }
  while (n > 1 && out[n - 1] == '/') --n;
  out[n] = '\0';
  return n;
}

}  // namespace

bool NeedsLexicalClean(absl::string_view p) {
  // memchr jumps from '/' to '/' (paths hold few of them): this runs on every absolute path
  // outside the prefix, so it must cost a few nanoseconds.
  const char* s = p.data();
  const char* end = s + p.size();
  while (true) {
    const char* slash = static_cast<const char*>(std::memchr(s, '/', end - s));
    if (slash == nullptr) return false;
    const char* next = slash + 1;
    if (next == end) return slash != p.data();  // trailing '/'
    if (*next == '/') return true;
    if (*next == '.') {
      if (next + 1 == end || next[1] == '/') return true;
      if (next[1] == '.' && (next + 2 == end || next[2] == '/')) return true;
    }
    s = next;
  }
}

size_t LexicalClean(absl::string_view path, char* out) {
  if (path.empty() || path[0] != '/') return 0;
  size_t n = 0;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t start = i;
    while (i < path.size() && path[i] != '/') ++i;
    absl::string_view comp = path.substr(start, i - start);
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") {
      while (n > 0 && out[n - 1] != '/') --n;
      if (n > 0) --n;  // drop the '/'
      continue;
    }
    if (n + 1 + comp.size() + 1 > kVfsPathMax) return 0;
    out[n++] = '/';
    std::memcpy(out + n, comp.data(), comp.size());
    n += comp.size();
  }
  if (n == 0) out[n++] = '/';
  out[n] = '\0';
  return n;
}

bool Prefix::InitFromEnv(GetenvFn getenv_fn) {
  const int saved_errno = errno;
  char raw[kVfsPathMax];
  Buf b(raw, sizeof(raw));
  if (const char* p = getenv_fn("HFSHIM_PREFIX"); Set(p)) {
    b.Append(p);
  } else if (const char* c = getenv_fn("HF_HUB_CACHE"); Set(c)) {
    b.Append(c);
  } else if (const char* c2 = getenv_fn("HUGGINGFACE_HUB_CACHE"); Set(c2)) {
    b.Append(c2);
  } else {
    if (const char* home = getenv_fn("HF_HOME"); Set(home)) {
      b.Append(home);
    } else if (const char* xdg = getenv_fn("XDG_CACHE_HOME"); Set(xdg)) {
      b.Append(xdg);
      b.Append("/huggingface");
    } else {
      b.Append("~/.cache/huggingface");
    }
    b.Append("/hub");
  }
  bool ok = b.ok() &&
            (literal_len_ = Absolute(getenv_fn, {raw, b.len()}, literal_, sizeof(literal_))) > 0;
  if (ok) ComputeReal();
  errno = saved_errno;
  return ok;
}

bool Prefix::InitWith(absl::string_view literal) {
  const int saved_errno = errno;
  literal_len_ = LexicalClean(literal, literal_);
  if (literal_len_ > 0) ComputeReal();
  errno = saved_errno;
  return literal_len_ > 0;
}

// The realpath of the longest existing ancestor, with the missing rest appended literally.
void Prefix::ComputeReal() {
  ComputeRealForm();
  real_differs_ = absl::string_view(real_, real_len_) != absl::string_view(literal_, literal_len_);
}

void Prefix::ComputeRealForm() {
  std::memcpy(real_, literal_, literal_len_ + 1);
  real_len_ = literal_len_;
  char probe[kVfsPathMax];
  std::memcpy(probe, literal_, literal_len_ + 1);
  size_t cut = literal_len_;
  while (true) {
    probe[cut] = '\0';
    char resolved[kVfsPathMax];
    if (::realpath(cut == 0 ? "/" : probe, resolved) != nullptr) {
      Buf b(real_, sizeof(real_));
      b.Append(resolved == absl::string_view("/") ? "" : resolved);
      b.Append(absl::string_view(literal_ + cut, literal_len_ - cut));
      if (b.ok() && b.len() > 0) {
        real_len_ = b.len();
        return;
      }
      break;
    }
    if (cut == 0) break;
    while (cut > 0 && probe[cut - 1] != '/') --cut;
    if (cut > 0) --cut;  // drop the '/'
  }
  std::memcpy(real_, literal_, literal_len_ + 1);
  real_len_ = literal_len_;
}

bool Prefix::MatchForm(absl::string_view form, absl::string_view path, absl::string_view* rel) {
  if (form.empty() || path.size() < form.size()) return false;
  // Most paths differ from the prefix within a few bytes: test those before calling memcmp.
  if (form.size() > 1 && path[1] != form[1]) return false;
  if (std::memcmp(path.data(), form.data(), form.size()) != 0) return false;
  if (form.size() == 1) {  // the prefix is "/" itself
    *rel = path.substr(1);
    return true;
  }
  if (path.size() == form.size()) {
    *rel = absl::string_view();
    return true;
  }
  if (path[form.size()] != '/') return false;
  absl::string_view rest = path.substr(form.size());
  while (!rest.empty() && rest[0] == '/') rest.remove_prefix(1);
  *rel = rest;
  return true;
}

bool Prefix::Match(absl::string_view path, char* scratch, absl::string_view* rel) const {
  if (literal_len_ == 0 || path.empty() || path[0] != '/') return false;
  if (MatchForm(literal(), path, rel) || (real_differs_ && MatchForm(real(), path, rel))) {
    return true;
  }
  // Only a path that does not start with a form as written needs cleaning to tell.
  if (!NeedsLexicalClean(path)) return false;
  size_t n = LexicalClean(path, scratch);
  if (n == 0) return false;
  absl::string_view clean(scratch, n);
  return MatchForm(literal(), clean, rel) || MatchForm(real(), clean, rel);
}

namespace {

// True if `path`'s first component equals `form`'s ("/a/b" vs "/a/c": yes).
HFSHIM_HOT_PATH bool SameFirstComponent(const char* path, const char* form) {
  size_t i = 1;
  while (form[i] != '\0' && form[i] != '/') {
    if (path[i] != form[i]) return false;
    ++i;
  }
  return path[i] == '\0' || path[i] == '/';
}

}  // namespace

HFSHIM_HOT_PATH bool Prefix::FirstComponentMayMatch(const char* path) const {
  if (literal_len_ <= 1) return literal_len_ == 1;  // the prefix is "/": everything
  while (path[0] == '/' && path[1] == '/') ++path;
  return SameFirstComponent(path, literal_) || (real_differs_ && SameFirstComponent(path, real_));
}

bool Prefix::IsPrefixComponent(absl::string_view name) const {
  if (name.empty()) return false;
  for (absl::string_view form : {literal(), real()}) {
    size_t i = 0;
    while (i < form.size()) {
      while (i < form.size() && form[i] == '/') ++i;
      size_t start = i;
      while (i < form.size() && form[i] != '/') ++i;
      if (form.substr(start, i - start) == name) return true;
    }
  }
  return false;
}

}  // namespace hfshim
