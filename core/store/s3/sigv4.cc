#include "core/store/s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/shared_library.h"

namespace hfshim {
namespace {

std::string Hex(const unsigned char* bytes, size_t n) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(bytes), n));
}

// Trims the value and collapses inner runs of whitespace to one space.
std::string CanonicalHeaderValue(absl::string_view value) {
  std::string out;
  bool space = false;
  for (char c : absl::StripAsciiWhitespace(value)) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// The libcrypto functions used here.
struct CryptoApi {
  EVP_MD_CTX* (*md_ctx_new)();
  void (*md_ctx_free)(EVP_MD_CTX* ctx);
  const EVP_MD* (*sha256)();
  int (*digest_init)(EVP_MD_CTX* ctx, const EVP_MD* type, ENGINE* engine);
  int (*digest_update)(EVP_MD_CTX* ctx, const void* data, size_t n);
  int (*digest_final)(EVP_MD_CTX* ctx, unsigned char* md, unsigned int* n);
  unsigned char* (*hmac)(const EVP_MD* md, const void* key, int key_len, const unsigned char* data,
                         size_t n, unsigned char* out, unsigned int* out_len);
};

// Loaded once; never destroyed.
const absl::StatusOr<CryptoApi>& LoadedCrypto() {
  static const absl::StatusOr<CryptoApi>* const loaded = [] {
    CryptoApi api;
    absl::Status s = LoadSharedLibrary(
        "libcrypto.so.3",
        {{&api.md_ctx_new, "EVP_MD_CTX_new"},
         {&api.md_ctx_free, "EVP_MD_CTX_free"},
         {&api.sha256, "EVP_sha256"},
         {&api.digest_init, "EVP_DigestInit_ex"},
         {&api.digest_update, "EVP_DigestUpdate"},
         {&api.digest_final, "EVP_DigestFinal_ex"},
         {&api.hmac, "HMAC"}},
        "S3 stores sign requests with it: install libssl3 (apt-get install libssl3)");
    return s.ok() ? new absl::StatusOr<CryptoApi>(api) : new absl::StatusOr<CryptoApi>(s);
  }();
  return *loaded;
}

// The loaded API. Callers are past LoadCrypto() (the S3 client checks before signing), so a
// failure here is a broken installation: say why, then abort.
const CryptoApi& Crypto() {
  const absl::StatusOr<CryptoApi>& api = LoadedCrypto();
  if (!api.ok()) {
    std::fprintf(stderr, "hfshim: %s\n", std::string(api.status().message()).c_str());
    std::abort();
  }
  return *api;
}

}  // namespace

absl::Status LoadCrypto() { return LoadedCrypto().status(); }

std::string Sha256Hex(absl::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.HexDigest();
}

Sha256::Sha256() {
  const CryptoApi& crypto = Crypto();
  ctx_ = crypto.md_ctx_new();
  crypto.digest_init(static_cast<EVP_MD_CTX*>(ctx_), crypto.sha256(), nullptr);
}

Sha256::~Sha256() { Crypto().md_ctx_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(absl::string_view data) {
  Crypto().digest_update(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

std::string Sha256::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  Crypto().digest_final(static_cast<EVP_MD_CTX*>(ctx_), md, &n);
  return Hex(md, n);
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const CryptoApi& crypto = Crypto();
  crypto.hmac(crypto.sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &n);
  return std::string(reinterpret_cast<const char*>(md), n);
}

std::string UriEncode(absl::string_view text, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (c == '/' && !encode_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string CanonicalQueryString(const QueryParams& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [k, v] : query) encoded.emplace_back(UriEncode(k, true), UriEncode(v, true));
  std::sort(encoded.begin(), encoded.end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : encoded) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, "&");
}

std::string AmzDate(absl::Time t) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone());
}

std::string CanonicalRequest(const SigV4Request& request, std::string* signed_headers) {
  std::map<std::string, std::string> headers;  // sorted by lower-case name
  for (const auto& [name, value] : request.headers) {
    std::string lower = absl::AsciiStrToLower(name);
    std::string v = CanonicalHeaderValue(value);
    auto [it, inserted] = headers.emplace(lower, v);
    if (!inserted) absl::StrAppend(&it->second, ",", v);  // repeated header: values joined
  }
  std::string canonical_headers;
  std::vector<absl::string_view> names;
  for (const auto& [name, value] : headers) {
    absl::StrAppend(&canonical_headers, name, ":", value, "\n");
    names.push_back(name);
  }
  *signed_headers = absl::StrJoin(names, ";");
  return absl::StrCat(request.method, "\n", request.canonical_uri, "\n",
                      CanonicalQueryString(request.query), "\n", canonical_headers, "\n",
                      *signed_headers, "\n", request.payload_hash);
}

std::string SigV4Authorization(const SigV4Credentials& credentials, absl::string_view region,
                               absl::string_view service, absl::string_view amz_date,
                               const SigV4Request& request) {
  const absl::string_view date = amz_date.substr(0, 8);
  const std::string scope = absl::StrCat(date, "/", region, "/", service, "/aws4_request");
  std::string signed_headers;
  const std::string canonical = CanonicalRequest(request, &signed_headers);
  const std::string to_sign =
      absl::StrCat("AWS4-HMAC-SHA256\n", amz_date, "\n", scope, "\n", Sha256Hex(canonical));
  std::string key = HmacSha256(absl::StrCat("AWS4", credentials.secret_access_key), date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  key = HmacSha256(key, "aws4_request");
  const std::string signature = absl::BytesToHexString(HmacSha256(key, to_sign));
  return absl::StrCat("AWS4-HMAC-SHA256 Credential=", credentials.access_key_id, "/", scope,
                      ", SignedHeaders=", signed_headers, ", Signature=", signature);
}

}  // namespace hfshim
