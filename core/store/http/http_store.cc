#include "core/store/http/http_store.h"

#include <cerrno>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/store/http/ranged_get.h"
#include "core/store/layout.h"
#include "core/store/local_store.h"
#include "core/store/s3/sigv4.h"

namespace hfshim {
namespace {

constexpr uint64_t kGetPartSize = 8ull << 20;

class HttpStore final : public ObjectStore {
 public:
  HttpStore(std::string base, HttpLimits limits, int parallel)
      : base_(std::move(base)), limits_(std::move(limits)), parallel_(parallel) {}

  absl::Status GetRange(absl::string_view key, uint64_t offset, uint64_t length, std::string* out,
                        absl::Time deadline) override {
    RETURN_IF_ERROR(ValidateKey(key));
    if (length == 0) {
      ASSIGN_OR_RETURN(ObjectInfo info, Head(key, deadline));
      if (offset > info.size) {
        return absl::OutOfRangeError(absl::StrCat("offset ", offset, " is past ", Shown(key)));
      }
      out->clear();
      return absl::OkStatus();
    }
    return FetchInParts(
        offset, length, kGetPartSize, parallel_,
        [&](uint64_t off, uint64_t len, std::string* buf) -> absl::Status {
          HttpRequest r;
          r.url = UrlOf(key);
          r.headers = {{"Range", RangeHeader(off, len)}};
          r.expected_body = len;
          ASSIGN_OR_RETURN(HttpResponse resp, Perform(r, deadline));
          if (resp.status < 200 || resp.status >= 300) return Error(resp, r, key);
          return TakeRange(&resp, off, len, Shown(key), buf);
        },
        out);
  }

  // One ranged GET whose body goes straight into the sink.
  absl::Status GetRangeTo(absl::string_view key, uint64_t offset, uint64_t length, RangeSink* sink,
                          absl::Time deadline) override {
    if (length == 0) return ObjectStore::GetRangeTo(key, offset, length, sink, deadline);
    RETURN_IF_ERROR(ValidateKey(key));
    HttpRequest r;
    r.url = UrlOf(key);
    r.headers = {{"Range", RangeHeader(offset, length)}};
    RangeFeeder feeder(offset, length, Shown(key), sink);
    r.on_body = feeder.BodyCallback();
    ASSIGN_OR_RETURN(HttpResponse resp, Perform(r, deadline));
    if (resp.status < 200 || resp.status >= 300) return Error(resp, r, key);
    return feeder.Finish(resp);
  }

  absl::StatusOr<ObjectInfo> Head(absl::string_view key, absl::Time deadline) override {
    RETURN_IF_ERROR(ValidateKey(key));
    HttpRequest r;
    r.method = "HEAD";
    r.url = UrlOf(key);
    ASSIGN_OR_RETURN(HttpResponse resp, Perform(r, deadline));
    if (resp.status < 200 || resp.status >= 300) return Error(resp, r, key);
    const std::string* cl = resp.Header("content-length");
    uint64_t size = 0;
    if (cl == nullptr || !absl::SimpleAtoi(*cl, &size)) {
      return absl::UnavailableError(absl::StrCat("HEAD ", Shown(key), ": no Content-Length"));
    }
    const std::string* etag = resp.Header("etag");
    return ObjectInfo{std::string(key), size, etag != nullptr ? *etag : std::string()};
  }

  absl::Status Put(absl::string_view key, absl::string_view, absl::Time) override {
    return ReadOnly(key);
  }
  absl::Status PutFile(absl::string_view key, const std::string&, absl::Time) override {
    return ReadOnly(key);
  }
  absl::Status PutIfAbsent(absl::string_view key, absl::string_view, absl::Time) override {
    return ReadOnly(key);
  }

  absl::StatusOr<std::vector<ObjectInfo>> List(absl::string_view prefix,
                                               absl::Time deadline) override {
    if (prefix != kHeadPrefix) {
      return absl::UnimplementedError(
          absl::StrCat("an HTTP store cannot list '", prefix, "' (", Describe(),
                       " only serves content and heads); list through a primary store: "
                       "HFSHIM_STORE=",
                       Describe(), ",s3://BUCKET/PREFIX"));
    }
    // Galloping probe over the contiguous head numbers, then a binary search.
    std::optional<ObjectInfo> best;
    uint64_t present = 0, missing = 1;
    while (true) {
      ASSIGN_OR_RETURN(std::optional<ObjectInfo> h, Probe(missing, deadline));
      if (!h.has_value()) break;
      present = missing;
      best = std::move(h);
      missing *= 2;
    }
    while (missing - present > 1) {
      const uint64_t mid = present + (missing - present) / 2;
      ASSIGN_OR_RETURN(std::optional<ObjectInfo> h, Probe(mid, deadline));
      if (h.has_value()) {
        present = mid;
        best = std::move(h);
      } else {
        missing = mid;
      }
    }
    std::vector<ObjectInfo> out;
    if (best.has_value()) out.push_back(*std::move(best));
    return out;
  }

  std::string Describe() const override { return UrlForMessages(base_); }

 private:
  std::string UrlOf(absl::string_view key) const {
    return absl::StrCat(base_, "/", UriEncode(key, /*encode_slash=*/false));
  }

  std::string Shown(absl::string_view key) const { return UrlForMessages(UrlOf(key)); }

  absl::StatusOr<HttpResponse> Perform(const HttpRequest& r, absl::Time deadline) const {
    HttpLimits limits = limits_;
    limits.deadline = deadline;
    return HttpPerform(r, limits);
  }

  absl::StatusOr<std::optional<ObjectInfo>> Probe(uint64_t sequence, absl::Time deadline) {
    auto h = Head(HeadKey(sequence), deadline);
    if (h.ok()) return std::optional<ObjectInfo>(*std::move(h));
    if (absl::IsNotFound(h.status())) return std::optional<ObjectInfo>();
    return h.status();
  }

  absl::Status Error(const HttpResponse& resp, const HttpRequest& r, absl::string_view key) const {
    const std::string what = absl::StrCat(r.method, " ", Shown(key), ": HTTP ", resp.status);
    const int st = resp.status;
    if (st == 404 || st == 410) {
      return absl::NotFoundError(
          absl::StrCat("object ", key, " is missing from ", Describe(), " (HTTP ", st, ")"));
    }
    if (st == 401 || st == 403) {
      return absl::PermissionDeniedError(
          absl::StrCat(what,
                       "; the server refuses access: serve the mirror publicly, give basic-auth "
                       "credentials as https://USER:PASSWORD@HOST/PATH, or use s3://"));
    }
    if (st == 416) return absl::OutOfRangeError(what);
    if (st == 429 || st >= 500) return absl::UnavailableError(what);
    if (st >= 300 && st < 400) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " (a redirect; hfshim follows none): use the final URL"));
    }
    return absl::UnknownError(what);
  }

  absl::Status ReadOnly(absl::string_view key) const {
    return PosixError(EROFS, absl::StrCat("cannot write ", key, ": ", Describe(),
                                          " is a read-only HTTP store; push to the primary "
                                          "store (s3:// or file://) instead"));
  }

  const std::string base_;
  const HttpLimits limits_;
  const int parallel_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ObjectStore>> NewHttpStore(absl::string_view url,
                                                          const HttpLimits& limits,
                                                          int get_parallel) {
  if (!(absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://")) ||
      url.find('?') != absl::string_view::npos || url.find('#') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("store URL '", url, "' is not http(s)://HOST[:PORT][/PATH]"));
  }
  std::string base(url);
  while (absl::EndsWith(base, "/")) base.pop_back();
  if (base.size() <= std::string(url.substr(0, url.find("://") + 3)).size()) {
    return absl::InvalidArgumentError(absl::StrCat("store URL '", url, "' has no host"));
  }
  return std::make_unique<HttpStore>(std::move(base), limits, get_parallel);
}

}  // namespace hfshim
