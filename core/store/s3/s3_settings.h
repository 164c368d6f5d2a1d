// S3Settings: everything an S3 store needs to address and sign requests, resolved once when the
// store is opened, the way the AWS tools resolve it:
//   bucket, prefix   from the URL s3://BUCKET[/PREFIX]
//   endpoint         HFSHIM_S3_ENDPOINT (Config.s3_endpoint), AWS_ENDPOINT_URL_S3,
//                    AWS_ENDPOINT_URL, else https://s3.REGION.amazonaws.com
//   region           AWS_REGION, AWS_DEFAULT_REGION, `region` of the profile in the config
//                    file, else us-east-1
//   addressing       HFSHIM_S3_ADDRESSING: path, virtual, or auto (virtual-host style on AWS for
//                    DNS-safe bucket names, path style for custom endpoints)
//   credentials      AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the
//                    profile AWS_PROFILE (default "default") in AWS_SHARED_CREDENTIALS_FILE
//                    (~/.aws/credentials), then in AWS_CONFIG_FILE (~/.aws/config); none when
//                    HFSHIM_S3_ANONYMOUS=1 (unsigned requests for public buckets).
// Reading the files does no network I/O. Secrets never appear in messages or in Describe().
//
// Thread-safety: a plain value.
#ifndef HFSHIM_CORE_STORE_S3_S3_SETTINGS_H_
#define HFSHIM_CORE_STORE_S3_S3_SETTINGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/config/config.h"
#include "core/env/env.h"
#include "core/store/s3/sigv4.h"

namespace hfshim {

struct S3Settings {
  std::string scheme = "https";  // of the endpoint
  std::string host;              // endpoint host[:port]
  std::string bucket;
  std::string prefix;  // "" or ends with '/'
  std::string region;
  bool path_style = false;
  bool anonymous = false;
  SigV4Credentials credentials;
  std::string credentials_source;  // for messages: where the key came from, never the key
  bool custom_endpoint = false;

  // "s3://bucket/prefix" (what the user wrote, normalised), for messages.
  std::string Describe() const;
  // The host requests go to: "bucket.host" (virtual) or "host" (path style).
  std::string RequestHost() const;
  // The encoded path for the object `full_key` (prefix included); "" = the bucket itself.
  std::string RequestPath(absl::string_view full_key) const;
};

// Resolves the settings for `url` (s3://...). InvalidArgument for a malformed URL or endpoint;
// FailedPrecondition when no credentials are found (naming where it looked and the fix) or a
// named profile does not exist. `fs` reads the AWS files.
absl::StatusOr<S3Settings> ResolveS3Settings(absl::string_view url, const Config& config,
                                             const EnvLookup& env, Env* fs);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_S3_S3_SETTINGS_H_
