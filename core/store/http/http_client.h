// HttpPerform: one HTTP request over libcurl, the transport under the S3 and HTTP stores.
//
// Connections are reused: idle curl easy handles (each with its connection cache, keep-alive)
// wait in a lock-free process-wide pool that every thread and store draws from. After fork() the
// child never touches the parent's handles or connections: the pool remembers the pid that filled
// it, and a child abandons them (without closing them, so no TLS close_notify is sent on the
// parent's sessions) and makes fresh ones. No lock is held across fork.
//
// Every request runs under three limits: a connect timeout, a low-speed limit (a stalled transfer
// is aborted once it moves less than 1 KiB/s for HttpLimits::low_speed_seconds) and the caller's
// absolute deadline. HttpPerform never retries and never follows redirects; callers map statuses.
//
// Transport failures become Unavailable (connection refused or reset, DNS failure, body shorter
// than Content-Length) or DeadlineExceeded (timeouts): both are retryable. A TLS certificate that
// does not verify is FailedPrecondition (retrying cannot help). Messages name the URL without its
// query, the cause and the fix; they never contain request headers (which carry credentials).
//
// Thread-safe.
#ifndef HFSHIM_CORE_STORE_HTTP_HTTP_CLIENT_H_
#define HFSHIM_CORE_STORE_HTTP_HTTP_CLIENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace hfshim {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse;

struct HttpRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;             // already percent-encoded
  HttpHeaders headers;         // sent as given (the caller signs them)
  // Request body: `body`, unless `body_reader` is set; then `body_length` bytes are streamed from
  // it (it fills up to n bytes of buf and returns the count; an error aborts the request).
  absl::string_view body;
  std::function<absl::StatusOr<size_t>(char* buf, size_t n)> body_reader;
  uint64_t body_length = 0;
  // If set, the body of a 2xx response goes to it as it arrives instead of into
  // HttpResponse::body (`head` has the status and headers by then). A non-OK status aborts the
  // transfer and HttpPerform returns it unchanged. Called on the thread of HttpPerform.
  std::function<absl::Status(const HttpResponse& head, absl::string_view data)> on_body;
  // Bytes expected in a successful response body (reserved up front), 0 if unknown.
  uint64_t expected_body = 0;
  // No low-speed limit: for answers a server may legitimately compute for long (S3's
  // CompleteMultipartUpload trickles whitespace while it assembles the parts).
  bool slow_answer_ok = false;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // names in lower case, values trimmed; of the final response only
  std::string body;     // error bodies are kept up to 64 KiB

  // The value of header `lower_name`, or nullptr.
  const std::string* Header(absl::string_view lower_name) const;
};

struct HttpLimits {
  absl::Time deadline = absl::InfiniteFuture();
  double connect_timeout_seconds = 5;
  double low_speed_seconds = 10;
  std::string ca_bundle;  // PEM file for HTTPS; empty = the system's
};

// Performs `request` once. OK means a complete response arrived (any status code); the body is as
// long as its Content-Length said. Requires: request.url is http:// or https://.
absl::StatusOr<HttpResponse> HttpPerform(const HttpRequest& request, const HttpLimits& limits);

// The CA bundle the AWS and curl tools would use: AWS_CA_BUNDLE, then CURL_CA_BUNDLE, else "".
std::string CaBundleFromEnvironment();

// The low-speed window for a connect timeout: 2x, clamped to [2 s, 30 s]. A transfer that moves
// less than 1 KiB/s for this long is aborted and retried, so one stalled connection costs a
// bounded part of the call's deadline.
double LowSpeedSecondsFor(double connect_timeout_seconds);

// `url` without its query string and without user:password@, for messages.
std::string UrlForMessages(absl::string_view url);

// True for statuses a retry may cure: Unavailable and DeadlineExceeded.
bool IsRetryable(const absl::Status& status);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_HTTP_HTTP_CLIENT_H_
