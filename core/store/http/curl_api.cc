#include "core/store/http/curl_api.h"

#include "absl/strings/str_cat.h"
#include "core/base/shared_library.h"

namespace hfshim {
namespace {

absl::StatusOr<CurlApi> Load() {
  CurlApi api;
  absl::Status s =
      LoadSharedLibrary("libcurl.so.4",
                        {{&api.global_init, "curl_global_init"},
                         {&api.easy_init, "curl_easy_init"},
                         {&api.easy_setopt, "curl_easy_setopt"},
                         {&api.easy_perform, "curl_easy_perform"},
                         {&api.easy_reset, "curl_easy_reset"},
                         {&api.easy_cleanup, "curl_easy_cleanup"},
                         {&api.easy_strerror, "curl_easy_strerror"},
                         {&api.slist_append, "curl_slist_append"},
                         {&api.slist_free_all, "curl_slist_free_all"}},
                        "HTTP and S3 stores need it: install libcurl4 (apt-get install libcurl4)");
  if (!s.ok()) return s;
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
