#include "core/stats/profile.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/log.h"

namespace hfshim {
namespace {

constexpr size_t kBufferBytes = 64 * 1024;
constexpr uint64_t kMaxLineAgeUs = 1000000;

// The profile file, absolute; set once by StartProfile before g_enabled.
char g_profile_path[4096];
std::atomic<bool> g_enabled{false};

uint64_t NowUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Appends whole lines. The file is opened for each write (one per 64 KiB of lines) instead of
// holding an fd: nothing for the program to close under us or inherit, and no fd moved to a
// high number (growing the fd table of a threaded process waits for an RCU grace period,
// milliseconds). O_APPEND: one write places whole lines atomically at the end of the file.
void WriteOut(const char* data, size_t n) {
  if (!g_enabled.load(std::memory_order_relaxed) || n == 0) return;
  const int saved = errno;
  const int fd = open(g_profile_path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd >= 0) {
    (void)!write(fd, data, n);
    close(fd);
  }
  errno = saved;
}

// One thread's pending lines. Registered in a global list so FlushProfile() reaches them.
struct ThreadBuffer {
  char data[kBufferBytes];
  size_t used = 0;
  uint64_t oldest_us = 0;
  std::mutex mu;  // taken by the owner on append and by FlushProfile; never contended on the
                  // hot path except during exit
  ThreadBuffer* next = nullptr;
  void FlushLocked() {
    WriteOut(data, used);
    used = 0;
  }
};

std::mutex g_registry_mu;
ThreadBuffer* g_registry = nullptr;  // intentionally leaked: threads may outlive exit handlers

// Initial-exec TLS: a plain pointer load, no __tls_get_addr call (the library is preloaded or
// linked into an executable, never dlopen'ed late).
__thread ThreadBuffer* t_buffer __attribute__((tls_model("initial-exec"))) = nullptr;

ThreadBuffer* MyBuffer() {
  if (t_buffer == nullptr) {
    auto* buffer = new ThreadBuffer();
    std::lock_guard<std::mutex> lock(g_registry_mu);
    buffer->next = g_registry;
    g_registry = buffer;
    t_buffer = buffer;
  }
  return t_buffer;
}

// The line writers below require room at `p` (MaxLineBytes) and return the new end.
char* PutText(char* p, absl::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

char* PutDecimal(char* p, uint64_t v) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = digits[--n];
  return p;
}

// '\n' and '\\' escaped; everything else copied in runs.
char* PutEscapedPath(char* p, absl::string_view path) {
  const char* s = path.data();
  const char* const end = s + path.size();
  while (s < end) {
    const char* run = s;
    while (run < end && *run != '\n' && *run != '\\') ++run;
    std::memcpy(p, s, static_cast<size_t>(run - s));
    p += run - s;
    if (run == end) break;
    *p++ = '\\';
    *p++ = *run == '\n' ? 'n' : '\\';
    s = run + 1;
  }
  return p;
}

// An upper bound of a line's length: four numbers of at most 20 digits, six spaces, the newline
// and the path with every byte escaped.
size_t MaxLineBytes(absl::string_view op, absl::string_view tier, absl::string_view path) {
  return 4 * 20 + 7 + op.size() + tier.size() + 2 * path.size();
}

// Writes one whole line, '\n' included, at `p` (room: MaxLineBytes) and returns its end.
char* PutLine(char* p, uint64_t unix_us, absl::string_view op, uint64_t latency_us, uint64_t offset,
              uint64_t bytes, absl::string_view tier, absl::string_view path) {
  p = PutDecimal(p, unix_us);
  *p++ = ' ';
  p = PutText(p, op);
  *p++ = ' ';
  p = PutDecimal(p, latency_us);
  *p++ = ' ';
  p = PutDecimal(p, offset);
  *p++ = ' ';
  p = PutDecimal(p, bytes);
  *p++ = ' ';
  p = PutText(p, tier);
  *p++ = ' ';
  p = PutEscapedPath(p, path);
  *p++ = '\n';
  return p;
}

std::string FormatLine(uint64_t unix_us, absl::string_view op, uint64_t latency_us, uint64_t offset,
                       uint64_t bytes, absl::string_view tier, absl::string_view path) {
  std::string line(MaxLineBytes(op, tier, path), '\0');
  char* end = PutLine(&line[0], unix_us, op, latency_us, offset, bytes, tier, path);
  line.resize(static_cast<size_t>(end - line.data()));
  return line;
}

}  // namespace

bool StartProfile(const std::string& path) {
  if (g_enabled.load()) return true;
  if (path.size() >= sizeof(g_profile_path)) {
    Log(LogLevel::kWarn, "HFSHIM_PROFILE path is too long; profiling is off");
    return false;
  }
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    Log(LogLevel::kWarn, absl::StrCat("cannot open HFSHIM_PROFILE file ", path, ": ",
                                      strerror(errno), "; profiling is off"));
    return false;
  }
  close(fd);
  std::memcpy(g_profile_path, path.c_str(), path.size() + 1);
  g_enabled.store(true);
  atexit(FlushProfile);
  return true;
}

bool ProfileEnabled() { return g_enabled.load(std::memory_order_relaxed); }

std::string FormatProfileLine(const ProfileRecord& r) {
  return FormatLine(r.unix_us, r.op, r.latency_us, r.offset, r.bytes, r.tier, r.path);
}

void RecordProfile(absl::string_view op, absl::string_view path, uint64_t offset, uint64_t bytes,
                   uint64_t latency_us, absl::string_view tier) {
  if (!ProfileEnabled()) return;
  const uint64_t now = NowUs();
  const size_t max_line = MaxLineBytes(op, tier, path);
  ThreadBuffer* b = MyBuffer();
  std::lock_guard<std::mutex> lock(b->mu);
  if (max_line > kBufferBytes) {  // a pathological path: a write of its own, after older lines
    b->FlushLocked();
    const std::string line = FormatLine(now, op, latency_us, offset, bytes, tier, path);
    WriteOut(line.data(), line.size());
    return;
  }
  // Formatted straight into this thread's buffer: no allocation, no intermediate copy.
  if (b->used + max_line > kBufferBytes) b->FlushLocked();
  if (b->used == 0) b->oldest_us = now;
  char* end = PutLine(b->data + b->used, now, op, latency_us, offset, bytes, tier, path);
  b->used = static_cast<size_t>(end - b->data);
  if (now - b->oldest_us >= kMaxLineAgeUs) b->FlushLocked();
}

void FlushProfile() {
  std::lock_guard<std::mutex> registry(g_registry_mu);
  for (ThreadBuffer* b = g_registry; b != nullptr; b = b->next) {
    std::lock_guard<std::mutex> lock(b->mu);
    b->FlushLocked();
  }
}

void ResetProfileAfterFork() {
  // Single-threaded in the child: the mutexes may have been held by threads that no longer
  // exist, so rebuild them rather than lock them.
  new (&g_registry_mu) std::mutex();
  for (ThreadBuffer* b = g_registry; b != nullptr; b = b->next) {
    new (&b->mu) std::mutex();
    b->used = 0;
  }
}

bool ParseProfileLine(absl::string_view line, ProfileRecord* out) {
  std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(' ', 6));
  if (parts.size() != 7) return false;
  ProfileRecord r;
  if (!absl::SimpleAtoi(parts[0], &r.unix_us) || !absl::SimpleAtoi(parts[2], &r.latency_us) ||
      !absl::SimpleAtoi(parts[3], &r.offset) || !absl::SimpleAtoi(parts[4], &r.bytes)) {
    return false;
  }
  r.op = std::string(parts[1]);
  r.tier = std::string(parts[5]);
  for (size_t i = 0; i < parts[6].size(); ++i) {
    char c = parts[6][i];
    if (c == '\\' && i + 1 < parts[6].size()) {
      char n = parts[6][++i];
      r.path.push_back(n == 'n' ? '\n' : n);
    } else {
      r.path.push_back(c);
    }
  }
  *out = std::move(r);
  return true;
}

}  // namespace hfshim
