#include "core/base/shared_library.h"

#include <dlfcn.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace hfshim {

absl::Status LoadSharedLibrary(const char* soname, std::initializer_list<LibrarySymbol> symbols,
                               absl::string_view fix) {
  void* lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (lib == nullptr) {
    const char* why = dlerror();
    return absl::UnavailableError(
        absl::StrCat("cannot load ", soname, " (", why ? why : "unknown reason", "); ", fix));
  }
  std::string missing;
  for (const LibrarySymbol& s : symbols) {
    *s.slot = dlsym(lib, s.name);
    if (*s.slot == nullptr) absl::StrAppend(&missing, missing.empty() ? "" : ", ", s.name);
  }
  if (!missing.empty()) {
    return absl::UnavailableError(absl::StrCat(soname, " lacks ", missing, "; ", fix));
  }
  return absl::OkStatus();
}

}  // namespace hfshim
