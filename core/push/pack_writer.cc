#include "core/push/pack_writer.h"

#include <fcntl.h>

#include <cstring>

#include "core/base/status_macros.h"
#include "core/env/file_util.h"

namespace hfshim {

std::string PackHeader() {
  std::string h(kPackHeaderSize, '\0');
  std::memcpy(&h[0], kPackMagic, 4);
  std::memcpy(&h[4], &kPackVersion, 4);
  return h;
}

absl::StatusOr<std::unique_ptr<PackWriter>> PackWriter::Create(Env* env, const std::string& path) {
  ASSIGN_OR_RETURN(int fd, env->Open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
  std::unique_ptr<PackWriter> w(new PackWriter(env, path, fd));
  ASSIGN_OR_RETURN(uint64_t unused, w->Append(PackHeader()));
  (void)unused;
  return w;
}

PackWriter::~PackWriter() {
  if (fd_ >= 0) env_->Close(fd_).IgnoreError();
}

absl::StatusOr<uint64_t> PackWriter::Append(absl::string_view data) {
  const uint64_t offset = size_;
  RETURN_IF_ERROR(WriteAll(env_, fd_, data, offset));
  hasher_.Update(data);
  size_ += data.size();
  return offset;
}

absl::StatusOr<Hash128> PackWriter::Finish() {
  absl::Status s = env_->Close(fd_);
  fd_ = -1;
  RETURN_IF_ERROR(s);
  return hasher_.Finish();
}

}  // namespace hfshim
