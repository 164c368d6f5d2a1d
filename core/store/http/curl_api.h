// CurlApi: the libcurl functions hfshim calls, loaded on first use (core/base/shared_library.h)
// instead of linked: libcurl and the ~30 libraries it needs (TLS, LDAP, Kerberos, SSH, IDN, ...)
// cost every exec of a preloaded process 3.9 ms here; only a process that talks to an HTTP or S3
// store loads them now.
//
// Thread-safety: LoadCurl() is thread-safe and loads once per process.
#ifndef HFSHIM_CORE_STORE_HTTP_CURL_API_H_
#define HFSHIM_CORE_STORE_HTTP_CURL_API_H_

#include <curl/curl.h>

#include "absl/status/statusor.h"

namespace hfshim {

struct CurlApi {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL* handle, CURLoption option, ...);
  CURLcode (*easy_perform)(CURL* handle);
  void (*easy_reset)(CURL* handle);
  void (*easy_cleanup)(CURL* handle);
  const char* (*easy_strerror)(CURLcode code);
  curl_slist* (*slist_append)(curl_slist* list, const char* item);
  void (*slist_free_all)(curl_slist* list);
};

// libcurl, loaded and initialised (curl_global_init) on the first call. Unavailable naming the
// library, the loader's reason and the fix when it cannot be loaded; the same answer after.
absl::StatusOr<const CurlApi*> LoadCurl();

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_HTTP_CURL_API_H_
