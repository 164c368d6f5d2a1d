#include "core/store/http/http_client.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/store/http/curl_api.h"

namespace hfshim {
namespace {

constexpr size_t kMaxErrorBody = 64 << 10;  // enough for any S3 error document
constexpr long kLowSpeedBytesPerSecond = 1024;
// curl's receive buffer for GET bodies (its default is 16 KiB): each recv and each body callback
// takes up to this much. Measured over s3rver on loopback (bench/README.md, seventh session):
// cold hfshim-warm of a 1 GiB model, median of 8 alternated rounds, 857 MB/s at 16 KiB, 919 MB/s
// at 256 KiB (the store's server also spent less CPU per byte), 857 MB/s at 512 KiB.
constexpr long kReceiveBufferBytes = 256 << 10;

// The handle pool: idle curl easy handles (each with its connection cache) in lock-free slots, so
// any thread, including the short-lived threads of parallel GETs, reuses warm connections. No
// locks: a fork can never leave the child waiting on one. The pool remembers the pid that filled
// it; a child finds a different pid and abandons every slot (without cleanup, so no TLS
// close_notify is sent on the parent's sessions). Never destroyed (atexit handlers may still call).
constexpr int kPoolSlots = 64;
std::atomic<CURL*> g_pool[kPoolSlots];
std::atomic<pid_t> g_pool_pid{0};

CURL* AcquireHandle(const CurlApi& curl) {
  const pid_t pid = getpid();
  if (g_pool_pid.load(std::memory_order_acquire) != pid) {
    for (auto& slot : g_pool) slot.store(nullptr);  // the parent's: abandoned in the child
    g_pool_pid.store(pid, std::memory_order_release);
  }
  for (auto& slot : g_pool) {
    if (slot.load(std::memory_order_relaxed) == nullptr) continue;
    if (CURL* h = slot.exchange(nullptr, std::memory_order_acq_rel)) {
      curl.easy_reset(h);  // keeps the connection cache
      return h;
    }
  }
  return curl.easy_init();
}

void ReleaseHandle(const CurlApi& curl, CURL* h) {
  for (auto& slot : g_pool) {
    CURL* expected = nullptr;
    if (slot.compare_exchange_strong(expected, h, std::memory_order_acq_rel)) return;
  }
  curl.easy_cleanup(h);  // the pool is full
}

struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  uint64_t sent = 0;
  absl::Status reader_status;
  uint64_t received = 0;     // body bytes of a 2xx response
  absl::Status body_status;  // of request->on_body
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  std::string& body = t->response->body;
  const bool success = t->response->status >= 200 && t->response->status < 300;
  if (success) t->received += len;
  if (success && t->request->on_body) {
    t->body_status = t->request->on_body(*t->response, absl::string_view(data, len));
    return t->body_status.ok() ? len : 0;  // 0 aborts the transfer
  }
  if (!success && body.size() >= kMaxErrorBody) return len;  // keep only the start of an error
  body.append(data, len);
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  absl::string_view line(data, len);
  if (absl::StartsWith(line, "HTTP/")) {  // a new response (after 100 Continue): start over
    t->response->headers.clear();
    int code = 0;
    const size_t sp = line.find(' ');
    if (sp != absl::string_view::npos) {
      (void)absl::SimpleAtoi(line.substr(sp + 1, 3), &code);
    }
    t->response->status = code;
    if (code >= 200 && code < 300 && t->request->expected_body > 0 && !t->request->on_body) {
      t->response->body.reserve(t->request->expected_body);
    }
    return len;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return len;
  std::string name(absl::StripAsciiWhitespace(line.substr(0, colon)));
  absl::AsciiStrToLower(&name);
  t->response->headers.emplace_back(
      std::move(name), std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return len;
}

size_t OnRead(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t want = size * n;
  const HttpRequest& r = *t->request;
  if (r.body_reader) {
    const uint64_t left = r.body_length - t->sent;
    if (left == 0) return 0;
    auto got = r.body_reader(buf, std::min<uint64_t>(want, left));
    if (!got.ok()) {
      t->reader_status = got.status();
      return CURL_READFUNC_ABORT;
    }
    if (*got == 0) {
      t->reader_status = absl::DataLossError(
          absl::StrCat("request body ended after ", t->sent, " of ", r.body_length, " bytes"));
      return CURL_READFUNC_ABORT;
    }
    t->sent += *got;
    return *got;
  }
  const size_t len = std::min<uint64_t>(want, r.body.size() - t->sent);
  std::copy_n(r.body.data() + t->sent, len, buf);
  t->sent += len;
  return len;
}

std::string HostOf(absl::string_view url) {
  size_t start = url.find("://");
  start = start == absl::string_view::npos ? 0 : start + 3;
  const size_t end = url.find_first_of("/?", start);
  absl::string_view host =
      url.substr(start, end == absl::string_view::npos ? url.npos : end - start);
  const size_t at = host.rfind('@');  // never user:password@
  return std::string(at == absl::string_view::npos ? host : host.substr(at + 1));
}

absl::Status TransportError(const CurlApi& curl, CURLcode code, const char* detail,
                            const HttpRequest& r, const HttpLimits& limits, const Transfer& t) {
  const std::string what = absl::StrCat(r.method, " ", UrlForMessages(r.url));
  const std::string why = detail[0] ? detail : curl.easy_strerror(code);
  if (code == CURLE_WRITE_ERROR && !t.body_status.ok()) return t.body_status;
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return absl::UnavailableError(absl::StrCat(what, ": cannot resolve host ", HostOf(r.url),
                                                 " (", why,
                                                 "); check the store URL or endpoint and DNS"));
    case CURLE_COULDNT_CONNECT:
      return absl::UnavailableError(absl::StrCat(what, ": cannot connect to ", HostOf(r.url), " (",
                                                 why, "); is the server up and the port right?"));
    case CURLE_OPERATION_TIMEDOUT:
      if (absl::Now() >= limits.deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat(what, ": no complete answer before the deadline (", why,
                         "); raise HFSHIM_TIMEOUT or check the network"));
      }
      return absl::DeadlineExceededError(absl::StrCat(what, ": connection stalled (", why, ")"));
    case CURLE_PARTIAL_FILE:
      return absl::UnavailableError(
          absl::StrCat(what, ": body shorter than its Content-Length (", why, ")"));
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
      if (!t.reader_status.ok()) {
        return absl::Status(
            t.reader_status.code(),
            absl::StrCat(what, ": reading the request body: ", t.reader_status.message()));
      }
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": TLS certificate problem (", why,
                       "); point AWS_CA_BUNDLE or CURL_CA_BUNDLE at the right CA file"));
    default:
      break;
  }
  return absl::UnavailableError(absl::StrCat(what, ": ", why));
}

}  // namespace

const std::string* HttpResponse::Header(absl::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

absl::StatusOr<HttpResponse> HttpPerform(const HttpRequest& r, const HttpLimits& limits) {
  const absl::Duration left = limits.deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(
        absl::StrCat(r.method, " ", UrlForMessages(r.url), ": the deadline passed before sending"));
  }
  const long total_ms = std::max<long>(1, absl::ToInt64Milliseconds(left));
  const long connect_ms = std::min<long>(
      total_ms, std::max<long>(1, static_cast<long>(limits.connect_timeout_seconds * 1000)));

  absl::StatusOr<const CurlApi*> api = LoadCurl();
  if (!api.ok()) return api.status();
  const CurlApi& curl = **api;
  CURL* h = AcquireHandle(curl);
  if (h == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  HttpResponse response;
  Transfer t;
  t.request = &r;
  t.response = &response;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl.easy_setopt(h, CURLOPT_URL, r.url.c_str());
  curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
  curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  if (!r.slow_answer_ok) {
    curl.easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytesPerSecond);
    curl.easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                     std::max<long>(1, static_cast<long>(limits.low_speed_seconds)));
  }
  curl.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!limits.ca_bundle.empty()) curl.easy_setopt(h, CURLOPT_CAINFO, limits.ca_bundle.c_str());
  curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl.easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl.easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl.easy_setopt(h, CURLOPT_HEADERDATA, &t);

  const bool has_body = r.method == "PUT" || r.method == "POST";
  if (r.method == "HEAD") {
    curl.easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (r.method == "PUT") {
    curl.easy_setopt(h, CURLOPT_UPLOAD, 1L);
  } else if (r.method == "POST") {
    curl.easy_setopt(h, CURLOPT_POST, 1L);
  } else if (r.method == "GET") {
    curl.easy_setopt(h, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
  } else {
    curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  if (has_body) {
    const curl_off_t size = r.body_reader ? r.body_length : r.body.size();
    curl.easy_setopt(h, CURLOPT_READFUNCTION, OnRead);
    curl.easy_setopt(h, CURLOPT_READDATA, &t);
    if (r.method == "PUT") {
      curl.easy_setopt(h, CURLOPT_INFILESIZE_LARGE, size);
    } else {
      curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, size);
    }
  }

  curl_slist* list = nullptr;
  for (const auto& [name, value] : r.headers) {
    list = curl.slist_append(list, absl::StrCat(name, ": ", value).c_str());
  }
  // No "Expect: 100-continue" round trip; no default Content-Type on POST.
  list = curl.slist_append(list, "Expect:");
  bool has_content_type = false;
  for (const auto& h : r.headers)
    has_content_type |= absl::EqualsIgnoreCase(h.first, "content-type");
  if (r.method == "POST" && !has_content_type) list = curl.slist_append(list, "Content-Type:");
  curl.easy_setopt(h, CURLOPT_HTTPHEADER, list);

  const CURLcode code = curl.easy_perform(h);
  curl.easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl.easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl.slist_free_all(list);
  ReleaseHandle(curl, h);
  if (code != CURLE_OK) return TransportError(curl, code, errbuf, r, limits, t);

  // A body shorter than Content-Length is never returned (curl catches most; this is the net).
  if (r.method != "HEAD") {
    const std::string* cl = response.Header("content-length");
    uint64_t declared = 0;
    const bool success = response.status >= 200 && response.status < 300;
    if (success && cl != nullptr && absl::SimpleAtoi(*cl, &declared) && declared != t.received) {
      return absl::UnavailableError(absl::StrCat(r.method, " ", UrlForMessages(r.url), ": body of ",
                                                 t.received, " bytes, Content-Length said ",
                                                 declared));
    }
  }
  return response;
}

std::string CaBundleFromEnvironment() {
  for (const char* var : {"AWS_CA_BUNDLE", "CURL_CA_BUNDLE"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') return v;
  }
  return "";
}

double LowSpeedSecondsFor(double connect_timeout_seconds) {
  return std::clamp(2 * connect_timeout_seconds, 2.0, 30.0);
}

std::string UrlForMessages(absl::string_view url) {
  url = url.substr(0, url.find('?'));
  const size_t scheme = url.find("://");
  const size_t start = scheme == absl::string_view::npos ? 0 : scheme + 3;
  const size_t slash = url.find('/', start);
  const size_t at = url.substr(0, slash).rfind('@');
  if (at == absl::string_view::npos || at < start) return std::string(url);
  return absl::StrCat(url.substr(0, start), url.substr(at + 1));  // no user:password@
}

bool IsRetryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace hfshim
