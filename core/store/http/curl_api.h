// CurlApi: the libcurl functions hfshim calls, loaded on first use (dlopen of libcurl.so.4)
// instead of linked. libhfshim.so is preloaded into every process of a job, most of which never
// touch the hub cache, and libcurl with the ~30 libraries it needs (TLS, LDAP, Kerberos, SSH,
// IDN, ...) made every exec load them: 500 execs of /bin/true took 8.6 ms each with the shim
// preloaded, 5.2 ms once libcurl was loaded lazily (bench/README.md, seventh session). Only a
// process that talks to an HTTP or S3 store loads it now.
//
// Thread-safety: LoadCurl() is thread-safe and loads once per process; the library is never
// unloaded, so the pointers stay valid.
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
