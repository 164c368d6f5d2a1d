// Whole-file helpers on top of Env. All take the Env explicitly so tests can inject faults.
#ifndef HFSHIM_CORE_ENV_FILE_UTIL_H_
#define HFSHIM_CORE_ENV_FILE_UTIL_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/env/env.h"

namespace hfshim {

// Reads a whole file.
absl::StatusOr<std::string> ReadFile(Env* env, const std::string& path);

// Writes all of `data` to fd at `off`, looping over short writes. Fails on a zero-byte write.
absl::Status WriteAll(Env* env, int fd, absl::string_view data, uint64_t off);

// Writes `data` to an unnamed file in `path`'s directory (O_TMPFILE), fsyncs it (if `durable`)
// and links it as `path`; where the file system has no unnamed files (or `path` exists and is
// replaced), to a unique temp file renamed over `path`. Readers see the old file or the new one,
// never a torn one, even if the process is killed. Without `durable` a power loss may leave a
// damaged file (the node cache accepts that: its content is verified by hfshim-warm --verify and
// refetched). No temp file is left on failure. NotFound if the directory does not exist.
absl::Status WriteFileAtomic(Env* env, const std::string& path, absl::string_view data,
                             bool durable = true);

// WriteFileAtomic of the bytes `write(fd)` writes into a new, empty file (open for reading and
// writing) from offset 0 (for
// content streamed from elsewhere, without holding it in memory). `write` may be called a second
// time, on another new file, if the first could not be named; its error is returned as is.
absl::Status WriteFileAtomicWith(Env* env, const std::string& path,
                                 const std::function<absl::Status(int fd)>& write,
                                 bool durable = true);

// Test-only: WriteFileAtomic tries unnamed files again after an Env could not link one.
void ForgetUnnamedFileFailuresForTesting();

// A unique temp name beside `path` ("<path>.tmp.<pid>.<counter>").
std::string TempPathFor(const std::string& path);

// mkdir -p. OK if it exists.
absl::Status MakeDirs(Env* env, const std::string& path, mode_t mode = 0755);

}  // namespace hfshim

#endif  // HFSHIM_CORE_ENV_FILE_UTIL_H_
