#include "core/base/mapped_buffer.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/file_size_limit.h"

namespace hfshim {
namespace {

constexpr size_t kRecycledGranule = size_t{1} << 20;
// Kept shared mappings stay resident (shared memory has no MADV_FREE): keep only window-sized
// ones.
constexpr size_t kMaxKeptSharedBytes = size_t{8} << 20;

size_t RoundUpToGranule(size_t n) {
  return (n + kRecycledGranule - 1) / kRecycledGranule * kRecycledGranule;
}

// The mappings of destroyed recycled buffers. PRELOAD-SAFE: constant-initialised, no
// allocation; a try-lock, so that no caller ever waits (see the header on fork).
class KeptMappings {
 public:
  struct Mapping {
    char* base = nullptr;
    size_t length = 0;
    mapped_buffer_internal::SharedFile shared;  // a shared mapping's memory file
  };

  // A kept mapping of at least `length` bytes, taken out; {nullptr, ...} if there is none (or
  // the lock is taken). A shared mapping is only handed to the process that made it: a fork
  // child's copy is the same memory as its parent's, so the child unmaps and closes those it
  // meets instead.
  Mapping Take(size_t length, pid_t caller) {
    Mapping found;
    if (busy_.test_and_set(std::memory_order_acquire)) return found;
    for (Mapping& m : kept_) {
      if (m.base == nullptr) continue;
      if (m.shared.fd >= 0 && m.shared.owner != caller) {
        Unmap(std::exchange(m, Mapping()));
      } else if (found.base == nullptr && m.length >= length) {
        found = std::exchange(m, Mapping());
      }
    }
    busy_.clear(std::memory_order_release);
    return found;
  }

  // Keeps `m` if there is room; false if the caller must unmap it.
  bool Keep(Mapping m) {
    if (busy_.test_and_set(std::memory_order_acquire)) return false;
    bool kept = false;
    for (Mapping& slot : kept_) {
      if (slot.base == nullptr) {
        slot = m;
        kept = true;
        break;
      }
    }
    busy_.clear(std::memory_order_release);
    return kept;
  }

  static void Unmap(const Mapping& m) {
    munmap(m.base, m.length);
    m.shared.Close();
  }

 private:
  std::atomic_flag busy_ = ATOMIC_FLAG_INIT;
  Mapping kept_[MappedBuffer::kRecycledMappings];
};

KeptMappings g_kept;         // private anonymous mappings
KeptMappings g_kept_shared;  // shared mappings of memory files

absl::StatusOr<char*> Map(size_t length) {
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot map a buffer of ", length, " bytes: ", std::strerror(errno)));
  }
  return static_cast<char*>(p);
}

}  // namespace

namespace mapped_buffer_internal {

bool SharedFile::Ours() const {
  struct stat st;
  return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

void SharedFile::Close() const {
  if (Ours()) close(fd);
}

}  // namespace mapped_buffer_internal

absl::StatusOr<MappedBuffer> MappedBuffer::Create(size_t size) {
  if (size == 0) return MappedBuffer();
  absl::StatusOr<char*> data = Map(size);
  if (!data.ok()) return data.status();
  return MappedBuffer(*data, size, size, /*recycled=*/false);
}

absl::StatusOr<MappedBuffer> MappedBuffer::CreateRecycled(size_t size) {
  if (size == 0) return MappedBuffer();
  const KeptMappings::Mapping kept = g_kept.Take(size, 0);
  if (kept.base != nullptr) return MappedBuffer(kept.base, size, kept.length, /*recycled=*/true);
  const size_t length = RoundUpToGranule(size);
  absl::StatusOr<char*> data = Map(length);
  if (!data.ok()) return data.status();
  return MappedBuffer(*data, size, length, /*recycled=*/true);
}

void MappedBuffer::DropInheritedShared() {
  g_kept_shared.Take(std::numeric_limits<size_t>::max(), getpid());  // finds none, drops theirs
}

absl::StatusOr<MappedBuffer> MappedBuffer::CreateShared(size_t size, size_t lead) {
  if (size == 0) return MappedBuffer();
  const pid_t pid = getpid();
  KeptMappings::Mapping m = g_kept_shared.Take(lead + size, pid);
  if (m.base != nullptr && !m.shared.Ours()) {  // its fd was closed behind our back
    KeptMappings::Unmap(m);
    m = KeptMappings::Mapping();
  }
  if (m.base == nullptr) {
    mapped_buffer_internal::SharedFile& f = m.shared;
    f.fd = memfd_create("hfshim-buffer", MFD_CLOEXEC);
    struct stat st;
    if (f.fd < 0 || fstat(f.fd, &st) != 0) {
      const int err = errno;
      if (f.fd >= 0) close(f.fd);
      return absl::UnavailableError(
          absl::StrCat("cannot create a memory file: ", std::strerror(err)));
    }
    f.owner = pid;
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    m.length = RoundUpToGranule(lead + size);
    if (!WithinFileSizeLimit(m.length)) {  // a memory file too counts against `ulimit -f`
      close(f.fd);
      return FileSizeLimitError(m.length, "a shared buffer");
    }
    void* p = ftruncate(f.fd, static_cast<off_t>(m.length)) == 0
                  ? mmap(nullptr, m.length, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0)
                  : MAP_FAILED;
    if (p == MAP_FAILED) {
      const int err = errno;
      close(f.fd);
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot map a shared buffer of ", m.length, " bytes: ", std::strerror(err)));
    }
    m.base = static_cast<char*>(p);
  }
  // The pages the bytes go to, in one call: a fetch writing into a fresh shared mapping would
  // otherwise fault once per page. Best effort (older kernels lack it; the faults then happen).
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* first_page = m.base + lead / page * page;
  madvise(first_page, static_cast<size_t>(m.base + lead + size - first_page), MADV_POPULATE_WRITE);
  MappedBuffer b(m.base + lead, size, m.length, /*recycled=*/true);
  b.lead_ = lead;
  b.shared_ = m.shared;
  return b;
}

MappedBuffer::MappedBuffer(MappedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)),
      recycled_(std::exchange(other.recycled_, false)),
      lead_(std::exchange(other.lead_, 0)),
      shared_(std::exchange(other.shared_, {})) {}

MappedBuffer& MappedBuffer::operator=(MappedBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
    recycled_ = std::exchange(other.recycled_, false);
    lead_ = std::exchange(other.lead_, 0);
    shared_ = std::exchange(other.shared_, {});
  }
  return *this;
}

MappedBuffer::~MappedBuffer() { Release(); }

void MappedBuffer::Release() {
  if (data_ == nullptr) return;
  const KeptMappings::Mapping m{data_ - lead_, mapped_, shared_};
  bool kept;
  if (shared_.fd >= 0) {
    // Only its maker keeps a shared mapping: in a fork child it is the parent's memory.
    kept = mapped_ <= kMaxKeptSharedBytes && shared_.owner == getpid() && g_kept_shared.Keep(m);
  } else {
    // A kept mapping's pages stay until the kernel needs them (MADV_FREE): reused, they are
    // written without a fault; taken back, they read as zeros, which the next owner overwrites.
    kept = recycled_ && mapped_ <= kMaxRecycledBytes && madvise(data_, mapped_, MADV_FREE) == 0 &&
           g_kept.Keep(m);
  }
  if (!kept) KeptMappings::Unmap(m);
  data_ = nullptr;
  size_ = 0;
  mapped_ = 0;
  recycled_ = false;
  lead_ = 0;
  shared_ = {};
}

}  // namespace hfshim
