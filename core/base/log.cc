#include "core/base/log.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace hfshim {
namespace {

constexpr int kMaxLinesPerSecond = 50;  // enough for a burst of distinct errors, bounded for loops
constexpr size_t kMaxLine = 1024;

// PRELOAD-SAFE: constant-initialised atomics, valid before any constructor runs.
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarn)};
std::atomic<long> g_window_second{0};
std::atomic<int> g_lines_in_window{0};
thread_local bool t_in_log = false;

bool UnderRateLimit() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  long second = now.tv_sec;
  long window = g_window_second.load(std::memory_order_relaxed);
  if (window != second && g_window_second.compare_exchange_strong(window, second)) {
    g_lines_in_window.store(0, std::memory_order_relaxed);
  }
  return g_lines_in_window.fetch_add(1, std::memory_order_relaxed) < kMaxLinesPerSecond;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }
bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void Log(LogLevel level, absl::string_view message) {
  if (!LogEnabled(level) || t_in_log) return;
  const int saved_errno = errno;
  t_in_log = true;
  if (UnderRateLimit()) {
    char line[kMaxLine + 16];
    constexpr absl::string_view kTag = "hfshim: ";
    size_t n = 0;
    std::memcpy(line, kTag.data(), kTag.size());
    n += kTag.size();
    size_t body = message.size() < kMaxLine ? message.size() : kMaxLine;
    std::memcpy(line + n, message.data(), body);
    n += body;
    line[n++] = '\n';
    size_t off = 0;
    while (off < n) {
      ssize_t w = ::write(2, line + off, n - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
  }
  t_in_log = false;
  errno = saved_errno;
}

void LogOnce(void* once_flag, LogLevel level, absl::string_view message) {
  auto* flag = static_cast<std::atomic<bool>*>(once_flag);
  if (flag->exchange(true)) return;
  Log(level, message);
}

}  // namespace hfshim
