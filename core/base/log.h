// The one reporter: single lines "hfshim: <message>" to fd 2 with write(2).
//
// PRELOAD-SAFE: Log() never allocates, never uses stdio, never takes a lock, preserves errno, and
// drops nested calls (a log line from inside a log line) and lines past a rate limit
// (kMaxLinesPerSecond), so it may be called from any thread, a fork child or under the shim guard.
// Messages should name the cause, the object and the fix:
//   "hfshim: read block 7 of data/ab12...: checksum mismatch; the cache entry was dropped"
#ifndef HFSHIM_CORE_BASE_LOG_H_
#define HFSHIM_CORE_BASE_LOG_H_

#include "absl/strings/string_view.h"

namespace hfshim {

enum class LogLevel : int { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Lines above this level are dropped. Default kWarn; config sets it from HFSHIM_LOG.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool LogEnabled(LogLevel level);

// Writes "hfshim: " + message + "\n" (truncated to 1 KiB) if `level` is enabled.
void Log(LogLevel level, absl::string_view message);

// Like Log(), but at most once per process for each distinct `once_key` address
// (pass the address of a static flag: `static std::atomic<bool> said; LogOnce(&said, ...)`).
void LogOnce(void* once_flag, LogLevel level, absl::string_view message);

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_LOG_H_
