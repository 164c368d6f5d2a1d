#include "core/store/http/curl_api.h"

#include <dlfcn.h>

#include <string>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace hfshim {
namespace {

constexpr char kLibrary[] = "libcurl.so.4";

// Loads libcurl and resolves every entry point; on failure, the reason.
absl::StatusOr<CurlApi> Load() {
  void* lib = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (lib == nullptr) {
    const char* why = dlerror();
    return absl::UnavailableError(
        absl::StrCat("cannot load ", kLibrary, " (", why ? why : "unknown reason",
                     "), which HTTP and S3 stores need; install it (apt-get install libcurl4)"));
  }
  CurlApi api;
  std::string missing;
  auto resolve = [&](auto* fn, const char* name) {
    void* sym = dlsym(lib, name);
    if (sym == nullptr) absl::StrAppend(&missing, missing.empty() ? "" : ", ", name);
    *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(sym);
  };
  resolve(&api.global_init, "curl_global_init");
  resolve(&api.easy_init, "curl_easy_init");
  resolve(&api.easy_setopt, "curl_easy_setopt");
  resolve(&api.easy_perform, "curl_easy_perform");
  resolve(&api.easy_reset, "curl_easy_reset");
  resolve(&api.easy_cleanup, "curl_easy_cleanup");
  resolve(&api.easy_strerror, "curl_easy_strerror");
  resolve(&api.slist_append, "curl_slist_append");
  resolve(&api.slist_free_all, "curl_slist_free_all");
  if (!missing.empty()) {
    return absl::UnavailableError(
        absl::StrCat(kLibrary, " lacks ", missing, "; install libcurl4 from Debian 12 or later"));
  }
  if (const CURLcode code = api.global_init(CURL_GLOBAL_DEFAULT); code != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("curl_global_init failed: ", api.easy_strerror(code)));
  }
  return api;
}

}  // namespace

absl::StatusOr<const CurlApi*> LoadCurl() {
  // Never destroyed: handles in the pool outlive static destructors (atexit handlers).
  static const absl::StatusOr<CurlApi>* const loaded = new absl::StatusOr<CurlApi>(Load());
  if (!loaded->ok()) return loaded->status();
  return &**loaded;
}

}  // namespace hfshim
