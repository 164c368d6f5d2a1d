// S3Client: signs, sends and interprets single S3 REST requests for one bucket (and prefix).
// The S3 store and the multipart uploader are built on it; it does not retry (RetryingStore and
// the uploader's per-part policy do).
//
// Error mapping (S3Client::Error): 404 NoSuchKey -> NotFound; 404 NoSuchBucket, 301/400 with a
// region hint (wrong region) -> FailedPrecondition naming the fix; 403 -> PermissionDenied with
// the S3 error code and where the credentials came from; 416 -> OutOfRange; 412 ->
// FailedPrecondition (callers turn it into AlreadyExists); 501 -> Unimplemented; 409
// ConditionalRequestConflict, 429,
// 5xx and SlowDown -> Unavailable (retryable). Each is one line: what, the S3 code and message,
// and the fix. Credentials never appear in them.
//
// Thread-safe.
#ifndef HFSHIM_CORE_STORE_S3_S3_CLIENT_H_
#define HFSHIM_CORE_STORE_S3_S3_CLIENT_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/store/http/http_client.h"
#include "core/store/s3/s3_settings.h"
#include "core/store/s3/sigv4.h"

namespace hfshim {

struct S3Call {
  std::string method = "GET";
  std::string full_key;  // object key with the store prefix; "" = the bucket
  QueryParams query;
  HttpHeaders headers;  // extra headers; all are signed
  absl::string_view body;
  std::function<absl::StatusOr<size_t>(char*, size_t)> body_reader;  // see HttpRequest
  uint64_t body_length = 0;
  std::string payload_hash;  // empty: SHA-256 of `body` (body_reader calls must set it)
  uint64_t expected_body = 0;
  bool slow_answer_ok = false;                                                  // see HttpRequest
  std::function<absl::Status(const HttpResponse&, absl::string_view)> on_body;  // see HttpRequest
};

class S3Client {
 public:
  S3Client(S3Settings settings, double connect_timeout_seconds, std::string ca_bundle);
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Sends `call` once, signed (unless anonymous). OK for any complete response, whatever its
  // status; transport failures as HttpPerform.
  absl::StatusOr<HttpResponse> Send(const S3Call& call, absl::Time deadline) const;

  // The status for a non-2xx `response` to `call` (see the header comment).
  absl::Status Error(const HttpResponse& response, const S3Call& call) const;

  // "s3://bucket/<full_key>" for messages.
  std::string Name(absl::string_view full_key) const;

  const S3Settings& settings() const { return settings_; }

 private:
  const S3Settings settings_;
  const HttpLimits limits_;  // deadline filled per request
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_S3_S3_CLIENT_H_
