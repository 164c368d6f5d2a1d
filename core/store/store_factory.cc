// OpenStore: picks the ObjectStore implementation by URL scheme.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/store/local_store.h"
#include "core/store/object_store.h"

namespace hfshim {
namespace {

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenOne(absl::string_view url, const Config& config) {
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
  if (absl::StartsWith(url, "s3://") || absl::StartsWith(url, "http://") ||
      absl::StartsWith(url, "https://")) {
    return absl::UnimplementedError(
        absl::StrCat("store URL '", url, "': S3 and HTTP stores are not built in this version"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("store URL '", url,
                   "' is not supported; use file:///DIR, s3://BUCKET/PREFIX or "
                   "http(s)://HOST/PATH"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenStore(absl::string_view url,
                                                       const Config& config) {
  return OpenOne(url, config);
}

absl::Time RequestDeadline(const Config& config) {
  return absl::Now() + absl::Seconds(config.timeout_seconds);
}

}  // namespace hfshim
