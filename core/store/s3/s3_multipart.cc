#include "core/store/s3/s3_multipart.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/parallel_parts.h"
#include "core/base/status_macros.h"
#include "core/store/retry_policy.h"
#include "core/store/s3/s3_xml.h"

namespace hfshim {
namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr uint64_t kMaxParts = 10000;

// SHA-256 of [offset, offset + length) of fd.
absl::StatusOr<std::string> HashRegion(Env* env, int fd, uint64_t offset, uint64_t length) {
  RETURN_IF_ERROR(LoadCrypto());
  Sha256 h;
  std::string buf(std::min<uint64_t>(kReadChunk, std::max<uint64_t>(length, 1)), '\0');
  uint64_t done = 0;
  while (done < length) {
    ASSIGN_OR_RETURN(
        size_t n,
        env->Pread(fd, buf.data(), std::min<uint64_t>(buf.size(), length - done), offset + done));
    if (n == 0) return absl::DataLossError("the file shrank while uploading");
    h.Update(absl::string_view(buf.data(), n));
    done += n;
  }
  return h.HexDigest();
}

// A PUT of [offset, offset + length) of fd to `full_key` with `query`; returns the ETag.
absl::StatusOr<std::string> PutRegion(const S3Client& client, Env* env, int fd, uint64_t offset,
                                      uint64_t length, absl::string_view full_key,
                                      const QueryParams& query, absl::Time deadline) {
  S3Call call;
  call.method = "PUT";
  call.full_key = std::string(full_key);
  call.query = query;
  ASSIGN_OR_RETURN(call.payload_hash, HashRegion(env, fd, offset, length));
  uint64_t pos = 0;
  call.body_length = length;
  call.body_reader = [&](char* buf, size_t n) -> absl::StatusOr<size_t> {
    ASSIGN_OR_RETURN(size_t got,
                     env->Pread(fd, buf, std::min<uint64_t>(n, length - pos), offset + pos));
    pos += got;
    return got;
  };
  ASSIGN_OR_RETURN(HttpResponse r, client.Send(call, deadline));
  if (r.status < 200 || r.status >= 300) return client.Error(r, call);
  const std::string* etag = r.Header("etag");
  return etag ? *etag : std::string();
}

absl::Status Multipart(const S3Client& client, Env* env, int fd, uint64_t size,
                       absl::string_view full_key, const UploadOptions& o, absl::Time deadline) {
  uint64_t part_size = std::max<uint64_t>(o.part_size, 5ull << 20);
  while ((size + part_size - 1) / part_size > kMaxParts) part_size *= 2;
  const uint64_t parts = (size + part_size - 1) / part_size;
  const RetryPolicy policy(o.retries);

  S3Call create;
  create.method = "POST";
  create.full_key = std::string(full_key);
  create.query = {{"uploads", ""}};
  std::string upload_id;
  RETURN_IF_ERROR(policy.Run(deadline, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(HttpResponse r, client.Send(create, deadline));
    if (r.status < 200 || r.status >= 300) return client.Error(r, create);
    upload_id = XmlText(r.body, "UploadId");
    if (upload_id.empty()) return absl::DataLossError("CreateMultipartUpload gave no UploadId");
    return absl::OkStatus();
  }));

  std::vector<std::string> etags(parts);
  absl::Status result = RunParts(parts, o.parallel, [&](uint64_t i, int) -> absl::Status {
    const uint64_t off = i * part_size;
    const uint64_t len = std::min(part_size, size - off);
    const QueryParams q = {{"partNumber", absl::StrCat(i + 1)}, {"uploadId", upload_id}};
    absl::Status s = policy.Run(deadline, [&]() -> absl::Status {
      ASSIGN_OR_RETURN(etags[i], PutRegion(client, env, fd, off, len, full_key, q, deadline));
      return absl::OkStatus();
    });
    if (s.ok()) return s;
    return absl::AbortedError(absl::StrCat("multipart upload of ", client.Name(full_key), ": part ",
                                           i + 1, " of ", parts, ": ", s.message()));
  });
  if (result.ok()) {
    std::string xml = "<CompleteMultipartUpload>";
    for (uint64_t i = 0; i < parts; ++i) {
      absl::StrAppend(&xml, "<Part><PartNumber>", i + 1, "</PartNumber><ETag>", XmlEscape(etags[i]),
                      "</ETag></Part>");
    }
    xml += "</CompleteMultipartUpload>";
    S3Call complete;
    complete.method = "POST";
    complete.full_key = std::string(full_key);
    complete.query = {{"uploadId", upload_id}};
    complete.body = xml;
    complete.headers = {{"Content-Type", "application/xml"}};
    complete.slow_answer_ok = true;  // S3 may assemble the parts for minutes
    result = policy.Run(deadline, [&]() -> absl::Status {
      ASSIGN_OR_RETURN(HttpResponse r, client.Send(complete, deadline));
      if (r.status < 200 || r.status >= 300) return client.Error(r, complete);
      if (r.body.find("<Error>") != std::string::npos) {  // S3 may fail after answering 200
        r.status = 500;
        return client.Error(r, complete);
      }
      return absl::OkStatus();
    });
    if (!result.ok()) {
      result = absl::AbortedError(absl::StrCat("completing the multipart upload of ",
                                               client.Name(full_key), ": ", result.message()));
    }
  }
  if (!result.ok()) {  // leave no parts behind (they cost storage); best effort
    S3Call abort;
    abort.method = "DELETE";
    abort.full_key = std::string(full_key);
    abort.query = {{"uploadId", upload_id}};
    (void)client.Send(abort, std::max(deadline, absl::Now() + absl::Seconds(5)));
  }
  return result;
}

}  // namespace

absl::Status UploadFile(const S3Client& client, Env* env, const std::string& local_path,
                        absl::string_view full_key, const UploadOptions& options,
                        absl::Time deadline) {
  ASSIGN_OR_RETURN(int fd, env->Open(local_path, O_RDONLY));
  struct stat st;
  absl::Status s = env->Fstat(fd, &st);
  if (s.ok()) {
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size > options.multipart_threshold) {
      s = Multipart(client, env, fd, size, full_key, options, deadline);
    } else {
      s = PutRegion(client, env, fd, 0, size, full_key, {}, deadline).status();
    }
  }
  env->Close(fd).IgnoreError();
  return s;
}

}  // namespace hfshim
