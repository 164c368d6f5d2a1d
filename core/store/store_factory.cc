// OpenStore: picks the ObjectStore implementation by URL scheme.
#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/status_macros.h"
#include "core/store/fallback_store.h"
#include "core/store/http/http_client.h"
#include "core/store/http/http_store.h"
#include "core/store/local_store.h"
#include "core/store/object_store.h"
#include "core/store/retrying_store.h"
#include "core/store/s3/s3_store.h"

namespace hfshim {
namespace {

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenOne(absl::string_view url, const Config& config,
                                                     int retries) {
  if (absl::StartsWith(url, "file://")) {
    absl::string_view path = url.substr(7);
    if (path.empty() || path.front() != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("store URL '", url, "' needs an absolute path: file:///absolute/dir"));
    }
    std::string root(path);
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    return NewLocalStore(root);
  }
  // Remote stores get retries (fewer for mirrors, which are followed by a fallback).
  if (absl::StartsWith(url, "s3://")) {
    ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> s3, NewS3Store(url, config));
    return NewRetryingStore(std::move(s3), retries);
  }
  if (absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://")) {
    HttpLimits limits;
    limits.connect_timeout_seconds = config.connect_timeout_seconds;
    limits.low_speed_seconds = LowSpeedSecondsFor(config.connect_timeout_seconds);
    limits.ca_bundle = CaBundleFromEnvironment();
    ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> http,
                     NewHttpStore(url, limits, std::clamp(config.threads, 1, 8)));
    return NewRetryingStore(std::move(http), retries);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("store URL '", url,
                   "' is not supported; use file:///DIR, s3://BUCKET/PREFIX or "
                   "http(s)://HOST/PATH"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenStore(absl::string_view url,
                                                       const Config& config) {
  if (url.find(',') == absl::string_view::npos) return OpenOne(url, config, config.retries);
  // A fallback list: mirrors first, the primary last. A failing mirror is retried at most once
  // before the next store is asked; the primary gets the full retry budget.
  std::vector<absl::string_view> urls = absl::StrSplit(url, ',');
  std::vector<std::unique_ptr<ObjectStore>> stores;
  for (size_t i = 0; i < urls.size(); ++i) {
    absl::string_view one = absl::StripAsciiWhitespace(urls[i]);
    if (one.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("store list '", url, "' has an empty entry; separate URLs with one ','"));
    }
    const bool primary = i + 1 == urls.size();
    ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store,
                     OpenOne(one, config, primary ? config.retries : std::min(config.retries, 1)));
    stores.push_back(std::move(store));
  }
  return NewFallbackStore(std::move(stores));
}

absl::Time RequestDeadline(const Config& config) {
  return absl::Now() + absl::Seconds(config.timeout_seconds);
}

}  // namespace hfshim
