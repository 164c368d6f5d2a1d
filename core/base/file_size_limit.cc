#include "core/base/file_size_limit.h"

#include <sys/resource.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "core/base/posix_error.h"

namespace hfshim {
namespace {

// The soft limit in bytes, or UINT64_MAX when there is none (or it cannot be read).
uint64_t FileSizeLimit() {
  struct rlimit r;
  if (getrlimit(RLIMIT_FSIZE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  return static_cast<uint64_t>(r.rlim_cur);
}

}  // namespace

bool WithinFileSizeLimit(uint64_t end) { return end <= FileSizeLimit(); }

absl::Status FileSizeLimitError(uint64_t end, absl::string_view what) {
  return PosixError(EFBIG, absl::StrCat(what, " of ", end,
                                        " bytes exceeds this process's file size limit (ulimit "
                                        "-f: ",
                                        FileSizeLimit(), " bytes): raise ulimit -f"));
}

}  // namespace hfshim
