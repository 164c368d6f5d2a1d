// Streaming uploads of local files to S3: one PUT for small files, a multipart upload for large
// ones. Neither buffers the whole file: each request body (a whole small file or one part) is
// read twice through Env, once to compute its SHA-256 for the signature and once while sending,
// so memory stays at one read buffer per transfer.
//
// Multipart: CreateMultipartUpload, parts uploaded by up to `parallel` threads (each part retried
// under `retries`), CompleteMultipartUpload (whose 200 answer may still carry an <Error>, which
// is checked). Any failure aborts the upload so no parts are left behind, and is reported as
// Aborted (not retryable: the parts were already retried) naming the part and the cause.
//
// Thread-safe.
#ifndef HFSHIM_CORE_STORE_S3_S3_MULTIPART_H_
#define HFSHIM_CORE_STORE_S3_S3_MULTIPART_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/env/env.h"
#include "core/store/s3/s3_client.h"

namespace hfshim {

struct UploadOptions {
  uint64_t multipart_threshold = 64ull << 20;  // files above this use multipart
  uint64_t part_size = 32ull << 20;            // grown so that no upload exceeds 10,000 parts
  int parallel = 4;
  int retries = 4;
};

// Uploads `local_path` to `full_key` (store prefix included). Requires the file not to change
// while uploading (S3 rejects a body whose hash changed).
absl::Status UploadFile(const S3Client& client, Env* env, const std::string& local_path,
                        absl::string_view full_key, const UploadOptions& options,
                        absl::Time deadline);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_S3_S3_MULTIPART_H_
