// LoadSharedLibrary: a library opened with dlopen on first use instead of linked. libhfshim.so is
// preloaded into every process of a job and its link-time dependencies are loaded at every exec,
// whether or not the process touches the hub cache; libraries only some processes need (libcurl
// for HTTP and S3 stores, libcrypto for S3 request signing) are loaded by those processes alone
// (bench/README.md, seventh session: 3.9 ms of every exec for libcurl's).
//
// Thread-safety: thread-safe (dlopen/dlsym are). The library is never unloaded, so resolved
// pointers stay valid for the life of the process.
#ifndef HFSHIM_CORE_BASE_SHARED_LIBRARY_H_
#define HFSHIM_CORE_BASE_SHARED_LIBRARY_H_

#include <initializer_list>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hfshim {

// One entry point to resolve: where to store it (the address of a function pointer) and its name.
struct LibrarySymbol {
  template <typename Fn>
  LibrarySymbol(Fn* out, const char* symbol) : slot(reinterpret_cast<void**>(out)), name(symbol) {}
  void** slot;
  const char* name;
};

// Opens `soname` and stores each symbol's address in its slot. Unavailable naming the library,
// the loader's reason (or the missing symbols) and `fix` when that fails.
absl::Status LoadSharedLibrary(const char* soname, std::initializer_list<LibrarySymbol> symbols,
                               absl::string_view fix);

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_SHARED_LIBRARY_H_
