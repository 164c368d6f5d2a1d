// AWS Signature Version 4 (header signing) for S3 requests, on OpenSSL's SHA-256 and HMAC.
//
// The canonical request follows AWS's rules: the URI is the caller's already-encoded path (S3
// does not normalise it), query parameters are encoded and sorted by name then value, header
// names are lower-cased, values trimmed with inner runs of spaces collapsed, and headers sorted.
// Tested against AWS's published signature test suite (tests/store/sigv4_test.cc).
//
// Thread-safe (no state). Secrets are inputs only: nothing here logs or returns them.
#ifndef HFSHIM_CORE_STORE_S3_SIGV4_H_
#define HFSHIM_CORE_STORE_S3_SIGV4_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/store/http/http_client.h"

namespace hfshim {

inline constexpr char kUnsignedPayload[] = "UNSIGNED-PAYLOAD";
// SHA-256 of the empty string.
inline constexpr char kEmptySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

using QueryParams = std::vector<std::pair<std::string, std::string>>;  // raw, not encoded

struct SigV4Request {
  std::string method;
  std::string canonical_uri;  // the percent-encoded path, exactly as sent ("/bucket/key")
  QueryParams query;
  HttpHeaders headers;       // every header to sign; must include host and x-amz-date
  std::string payload_hash;  // lower-case hex SHA-256 of the body, or kUnsignedPayload
};

// Loads libcrypto (OpenSSL's libcrypto.so.3, for SHA-256 and HMAC) on first use instead of
// linking it, which cost every exec of a preloaded process ~0.5 ms (core/base/shared_library.h).
// The S3 client calls it before signing a request, so a missing library is a clear error
// there. Sha256, Sha256Hex and HmacSha256 load it too, and abort with that error if it cannot
// be loaded.
absl::Status LoadCrypto();

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

// Incremental SHA-256 (for streamed bodies). Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(absl::string_view data);
  std::string HexDigest();  // finishes the hash

 private:
  void* ctx_;  // EVP_MD_CTX
};

// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(absl::string_view key, absl::string_view data);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - _ . ~) stay,
// every other byte becomes %XX (upper-case hex); '/' stays only if !encode_slash.
std::string UriEncode(absl::string_view text, bool encode_slash);

// "a=1&b=2": encoded and sorted by name, then value. Also the query string sent on the wire.
std::string CanonicalQueryString(const QueryParams& query);

// "20150830T123600Z" for `t` in UTC.
std::string AmzDate(absl::Time t);

// The canonical request (SigV4 task 1); *signed_headers gets "host;x-amz-date;...".
std::string CanonicalRequest(const SigV4Request& request, std::string* signed_headers);

// The value of the Authorization header for `request`, signed at `amz_date` (which must equal
// the request's x-amz-date header) for `region` and `service`.
std::string SigV4Authorization(const SigV4Credentials& credentials, absl::string_view region,
                               absl::string_view service, absl::string_view amz_date,
                               const SigV4Request& request);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_S3_SIGV4_H_
