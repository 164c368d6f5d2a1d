// Prefix: where the virtual hub cache appears, in its literal form (as huggingface_hub spells it)
// and its realpath form, plus the cheap test "is this absolute path at or under the prefix?".
//
// Everything here is PRELOAD-SAFE: fixed buffers, no allocation, no locks, errno preserved, so the
// shim can compute the prefix in its constructor and test every path argument against it. The
// literal form is computed exactly as LoadConfig() computes Config::prefix (HFSHIM_PREFIX, else
// huggingface_hub's order); a unit test keeps the two in step.
//
// Thread-safety: Init*() once before use (single-threaded); afterwards all methods are const.
#ifndef HFSHIM_CORE_VFS_PREFIX_H_
#define HFSHIM_CORE_VFS_PREFIX_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace hfshim {

inline constexpr size_t kVfsPathMax = 4096;  // PATH_MAX, including the NUL

// Reads an environment variable (getenv or a test double). nullptr when unset.
using GetenvFn = const char* (*)(const char* name);

class Prefix {
 public:
  // Computes the literal prefix from the environment (HFSHIM_PREFIX, HF_HUB_CACHE,
  // HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/...), then
  // its realpath form. False if the result does not fit kVfsPathMax. PRELOAD-SAFE.
  bool InitFromEnv(GetenvFn getenv_fn);
  // Uses `literal` (absolute) as the prefix. PRELOAD-SAFE.
  bool InitWith(absl::string_view literal);

  bool valid() const { return literal_len_ > 0; }
  absl::string_view literal() const { return {literal_, literal_len_}; }
  absl::string_view real() const { return {real_, real_len_}; }

  // If absolute path `path` is the prefix or below it (literal or real form, after lexical
  // clean-up of "//", "/./" and "/../" where present), returns true and sets *rel to the rest
  // without its leading '/' ("" for the prefix itself; may still hold ".." components). *rel
  // points into `path` or into `scratch` (kVfsPathMax bytes). PRELOAD-SAFE.
  bool Match(absl::string_view path, char* scratch, absl::string_view* rel) const;

  // False if absolute `path` (NUL-terminated) cannot be at or under the prefix because its first
  // component (after any extra leading '/') is neither form's first component. A few compares,
  // no libc call: the fast rejection of every path outside the prefix. (A path that reaches the
  // prefix from another top-level directory through ".." is not recognised.) PRELOAD-SAFE.
  bool FirstComponentMayMatch(const char* path) const;

  // True if `name` equals a component of the prefix (either form): a relative path starting
  // with it may reach the prefix from an ancestor directory. PRELOAD-SAFE.
  bool IsPrefixComponent(absl::string_view name) const;

 private:
  static bool MatchForm(absl::string_view form, absl::string_view path, absl::string_view* rel);
  void ComputeReal();
  void ComputeRealForm();

  char literal_[kVfsPathMax] = {};
  size_t literal_len_ = 0;
  char real_[kVfsPathMax] = {};
  size_t real_len_ = 0;
  bool real_differs_ = false;  // real() != literal()
};

// Lexically cleans absolute `path` into `out` (kVfsPathMax bytes): collapses "//", drops "."
// components, ".." pops a component (never above "/"), drops a trailing '/'. Returns the length,
// or 0 if `path` is not absolute or the result does not fit. PRELOAD-SAFE.
size_t LexicalClean(absl::string_view path, char* out);

// True if absolute `path` holds "//", a "." or ".." component, or a trailing '/'. PRELOAD-SAFE.
bool NeedsLexicalClean(absl::string_view path);

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_PREFIX_H_
