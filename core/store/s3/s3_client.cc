#include "core/store/s3/s3_client.h"

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/store/s3/s3_xml.h"

namespace hfshim {
namespace {

// The fix to suggest for a 403 with S3 error `code`.
std::string FixFor403(absl::string_view code, const S3Settings& s) {
  const std::string from = absl::StrCat("the credentials from ", s.credentials_source);
  if (code == "InvalidAccessKeyId") return absl::StrCat(from, " name an unknown access key");
  if (code == "SignatureDoesNotMatch") {
    return absl::StrCat(from, " have a wrong secret key (or the endpoint rewrites requests)");
  }
  if (code == "ExpiredToken" || code == "TokenRefreshRequired" || code == "InvalidToken") {
    return absl::StrCat(from, " hold an expired session token; refresh them");
  }
  if (code == "RequestTimeTooSkewed") return "this machine's clock is off; sync it (NTP)";
  if (s.anonymous) {
    return "the bucket is not public; unset HFSHIM_S3_ANONYMOUS and provide credentials";
  }
  return absl::StrCat(from, " are not allowed this on ", s.Describe(),
                      "; check the bucket policy and IAM permissions");
}

}  // namespace

S3Client::S3Client(S3Settings settings, double connect_timeout_seconds, std::string ca_bundle)
    : settings_(std::move(settings)),
      limits_{absl::InfiniteFuture(), connect_timeout_seconds,
              LowSpeedSecondsFor(connect_timeout_seconds), std::move(ca_bundle)} {}

std::string S3Client::Name(absl::string_view full_key) const {
  return absl::StrCat("s3://", settings_.bucket, "/", full_key);
}

absl::StatusOr<HttpResponse> S3Client::Send(const S3Call& call, absl::Time deadline) const {
  HttpRequest r;
  r.method = call.method;
  const std::string path = settings_.RequestPath(call.full_key);
  const std::string host = settings_.RequestHost();
  const std::string query = CanonicalQueryString(call.query);
  r.url = absl::StrCat(settings_.scheme, "://", host, path.empty() ? "/" : path,
                       query.empty() ? "" : "?", query);
  r.body = call.body;
  r.body_reader = call.body_reader;
  r.body_length = call.body_length;
  r.expected_body = call.expected_body;
  r.slow_answer_ok = call.slow_answer_ok;
  r.on_body = call.on_body;
  r.headers = call.headers;
  r.headers.emplace_back("Host", host);
  if (!settings_.anonymous) {
    // Loaded with the first signed request, not with the store: a process that answers from
    // the node (no request) never loads it.
    RETURN_IF_ERROR(LoadCrypto());
    SigV4Request sig;
    sig.method = call.method;
    sig.canonical_uri = path.empty() ? "/" : path;
    sig.query = call.query;
    sig.payload_hash = !call.payload_hash.empty() ? call.payload_hash
                       : call.body.empty()        ? std::string(kEmptySha256)
                                                  : Sha256Hex(call.body);
    const std::string date = AmzDate(absl::Now());
    r.headers.emplace_back("x-amz-date", date);
    r.headers.emplace_back("x-amz-content-sha256", sig.payload_hash);
    if (!settings_.credentials.session_token.empty()) {
      r.headers.emplace_back("x-amz-security-token", settings_.credentials.session_token);
    }
    sig.headers = r.headers;
    r.headers.emplace_back("Authorization", SigV4Authorization(settings_.credentials,
                                                               settings_.region, "s3", date, sig));
  }
  HttpLimits limits = limits_;
  limits.deadline = deadline;
  return HttpPerform(r, limits);
}

absl::Status S3Client::Error(const HttpResponse& response, const S3Call& call) const {
  const int st = response.status;
  const std::string code = XmlText(response.body, "Code");
  const std::string message = XmlText(response.body, "Message");
  std::string what = absl::StrCat("S3 ", call.method, " ", Name(call.full_key), ": HTTP ", st);
  if (!code.empty()) absl::StrAppend(&what, " ", code);
  if (!message.empty()) absl::StrAppend(&what, " (", message, ")");

  std::string region;
  if (const std::string* h = response.Header("x-amz-bucket-region")) region = *h;
  if (region.empty()) region = XmlText(response.body, "Region");
  if ((st == 301 || st == 400) && !region.empty() && region != settings_.region) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": bucket ", settings_.bucket, " is in region ", region, ", not ",
                     settings_.region, "; set AWS_REGION=", region));
  }
  if (st == 301 || code == "PermanentRedirect") {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": the bucket lives elsewhere; set AWS_REGION to its region or fix the endpoint"));
  }
  if (st == 404) {
    if (code == "NoSuchBucket") {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": bucket ", settings_.bucket, " does not exist at ", settings_.scheme,
                       "://", settings_.host, "; create it or fix the store URL / endpoint"));
    }
    return absl::NotFoundError(absl::StrCat("object ", Name(call.full_key), " is missing (HTTP 404",
                                            code.empty() ? "" : " ", code, ")"));
  }
  if (st == 401 || st == 403) {
    return absl::PermissionDeniedError(absl::StrCat(what, "; ", FixFor403(code, settings_)));
  }
  if (st == 416) return absl::OutOfRangeError(what);
  if (st == 412) return absl::FailedPreconditionError(what);
  if (st == 501) return absl::UnimplementedError(what);  // e.g. a header the server lacks
  if (st == 429 || st >= 500 || code == "SlowDown" || code == "ConditionalRequestConflict" ||
      st == 307) {
    return absl::UnavailableError(what);
  }
  if (st == 400) return absl::InvalidArgumentError(what);
  return absl::UnknownError(what);
}

}  // namespace hfshim
