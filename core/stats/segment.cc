#include "core/stats/segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/base/posix_error.h"

namespace hfshim {
namespace {

// Reads a mapped segment; false if it is not a complete segment of this format.
bool ReadOne(const std::string& path, SegmentSnapshot* out, uint64_t* start_ticks) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  void* map = mmap(nullptr, kSegmentSize, PROT_READ, MAP_SHARED, fd, 0);
  off_t size = lseek(fd, 0, SEEK_END);
  close(fd);
  if (map == MAP_FAILED) return false;
  bool ok = false;
  const auto* h = static_cast<const SegmentHeader*>(map);
  if (size >= static_cast<off_t>(kSegmentSize) &&
      std::memcmp(h->magic, kSegmentMagic, sizeof(kSegmentMagic)) == 0 &&
      h->version == kSegmentVersion && h->counter_count == kCounterCount &&
      h->latency_buckets == kLatencyBuckets) {
    out->pid = h->pid;
    out->comm.assign(h->comm, strnlen(h->comm, sizeof(h->comm)));
    out->start_unix_ns = h->start_unix_ns;
    *start_ticks = h->proc_start_ticks;
    const auto* values = reinterpret_cast<const std::atomic<uint64_t>*>(
        static_cast<const char*>(map) + sizeof(SegmentHeader));
    out->counters.resize(kCounterCount);
    out->latency.resize(kLatencyBuckets);
    for (size_t i = 0; i < kCounterCount; ++i) out->counters[i] = values[i].load();
    for (size_t i = 0; i < kLatencyBuckets; ++i) {
      out->latency[i] = values[kCounterCount + i].load();
    }
    ok = true;
  }
  munmap(map, kSegmentSize);
  return ok;
}

}  // namespace

uint64_t ProcessStartTicks(uint32_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%u/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  // The command name (field 2) may contain spaces and ')': fields resume after the last ')'.
  const char* rest = strrchr(buf, ')');
  if (rest == nullptr) return 0;
  std::vector<absl::string_view> fields = absl::StrSplit(rest + 2, ' ');
  // rest starts at field 3 (state); field 22 (starttime) is index 19.
  uint64_t ticks = 0;
  if (fields.size() > 19 && absl::SimpleAtoi(fields[19], &ticks)) return ticks;
  return 0;
}

absl::StatusOr<std::vector<SegmentSnapshot>> ReadSegments(const std::string& dir,
                                                          bool remove_stale) {
  std::vector<SegmentSnapshot> result;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return result;  // no shimmed process has run yet
    return ErrnoStatus(errno, "open stats directory " + dir);
  }
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    if (!absl::EndsWith(name, ".stats")) continue;
    uint32_t pid = 0;
    if (!absl::SimpleAtoi(name.substr(0, name.size() - 6), &pid)) continue;
    const std::string path = dir + "/" + std::string(name);
    SegmentSnapshot snap;
    uint64_t recorded_ticks = 0;
    const bool readable = ReadOne(path, &snap, &recorded_ticks);
    const uint64_t live_ticks = ProcessStartTicks(pid);
    const bool alive = live_ticks != 0 && (!readable || recorded_ticks == live_ticks);
    if (readable && alive && snap.pid == pid) {
      result.push_back(std::move(snap));
    } else if (remove_stale && !alive) {
      unlink(path.c_str());
    }
  }
  closedir(d);
  std::sort(result.begin(), result.end(),
            [](const SegmentSnapshot& a, const SegmentSnapshot& b) { return a.pid < b.pid; });
  return result;
}

}  // namespace hfshim
