// S3Store: an ObjectStore in an S3-compatible bucket (s3://BUCKET[/PREFIX]): AWS S3, MinIO,
// Ceph RGW, GCS/OSS through their S3 APIs, s3rver in tests. Settings: core/store/s3/s3_settings.h.
//
// GetRange is a ranged GET (ranges over 16 MiB are split into 8 MiB GETs run in parallel) whose
// answer must be exactly the bytes asked for; Head is a HEAD; Put a signed PUT; PutFile streams
// the file (multipart above 64 MiB, see s3_multipart.h); List is ListObjectsV2 without delimiter.
//
// PutIfAbsent is a PUT with "If-None-Match: *" (412 -> AlreadyExists). Not every S3 server honours
// that header (s3rver 3.7.1 ignores it and overwrites), so before its first conditional write a
// store checks, once per process: it writes a probe object under .hfshim-probe/, sends a
// conditional PUT onto it and deletes it. A store that overwrote the probe does not honour
// conditional writes: PutIfAbsent then fails with FailedPrecondition explaining that concurrent
// pushers could lose updates, unless HFSHIM_S3_UNSAFE_PUT_IF_ABSENT=1, which emulates it with
// HEAD-then-PUT (a race window remains; for single-pusher setups and tests).
//
// No retries here: OpenStore wraps the store in a RetryingStore. Thread-safe.
#ifndef HFSHIM_CORE_STORE_S3_S3_STORE_H_
#define HFSHIM_CORE_STORE_S3_S3_STORE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/config/config.h"
#include "core/env/env.h"
#include "core/store/object_store.h"
#include "core/store/s3/s3_multipart.h"
#include "core/store/s3/s3_settings.h"

namespace hfshim {

struct S3StoreOptions {
  double connect_timeout_seconds = 5;
  std::string ca_bundle;  // see CaBundleFromEnvironment()
  UploadOptions upload;
  uint64_t get_part_size = 8ull << 20;  // parallel GETs split ranges above twice this
  int get_parallel = 4;
  bool unsafe_put_if_absent = false;  // HFSHIM_S3_UNSAFE_PUT_IF_ABSENT
};

// Options from `config` (timeouts, threads, retries, the unsafe opt-in) and the CA bundle from
// the environment.
S3StoreOptions S3StoreOptionsFrom(const Config& config);

// Opens s3://... with settings resolved from `config`, the environment and the AWS files.
// No network I/O. Errors as ResolveS3Settings.
absl::StatusOr<std::unique_ptr<ObjectStore>> NewS3Store(absl::string_view url, const Config& config,
                                                        const EnvLookup& env = ProcessEnvironment(),
                                                        Env* fs = Env::Default());

// For tests: a store from explicit settings and options.
std::unique_ptr<ObjectStore> NewS3StoreWith(S3Settings settings, const S3StoreOptions& options,
                                            Env* fs = Env::Default());

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_S3_S3_STORE_H_
