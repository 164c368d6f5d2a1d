// HttpStore: a read-only ObjectStore over plain HTTP(S) (http(s)://host/path): any static server
// serving a pushed store directory (nginx, a mirror, a CDN). Key K is at <base>/K.
//
// GetRange is a ranged GET (a server that ignores Range still works: the range is cut from the
// whole object); Head is a HEAD. Put, PutFile and PutIfAbsent fail with EROFS: push to the
// primary store (s3:// or file://) instead.
//
// List: plain HTTP cannot list, but readers only list "heads/" (FindLatestHead), and heads are
// numbered 1, 2, 3... without gaps (each push creates the next one with PutIfAbsent). So
// List("heads/") probes with HEAD requests: heads/1, 2, 4, 8... until one is missing, then a
// binary search between the last present and the first missing number; it returns only the
// highest head found (O(log N) requests). Any other prefix is Unimplemented: put the mirror in
// front of a primary that can list ("http://mirror/x,s3://bucket/x").
//
// Status mapping: 404/410 -> NotFound, 401/403 -> PermissionDenied, 416 -> OutOfRange, 429/5xx ->
// Unavailable. No retries here (OpenStore wraps it in a RetryingStore). Thread-safe.
#ifndef HFSHIM_CORE_STORE_HTTP_HTTP_STORE_H_
#define HFSHIM_CORE_STORE_HTTP_HTTP_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/store/http/http_client.h"
#include "core/store/object_store.h"

namespace hfshim {

// `url` is http(s)://host[:port][/path]; `limits.deadline` is ignored (each call has its own).
// InvalidArgument for another URL. No network I/O.
absl::StatusOr<std::unique_ptr<ObjectStore>> NewHttpStore(absl::string_view url,
                                                          const HttpLimits& limits,
                                                          int get_parallel = 4);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_HTTP_HTTP_STORE_H_
