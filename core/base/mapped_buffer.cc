#include "core/base/mapped_buffer.h"

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace hfshim {
namespace {

constexpr size_t kRecycledGranule = size_t{1} << 20;

// The mappings of destroyed recycled buffers. PRELOAD-SAFE: constant-initialised, no
// allocation; a try-lock, so that no caller ever waits (see the header on fork).
class KeptMappings {
 public:
  struct Mapping {
    char* data = nullptr;
    size_t length = 0;
  };

  // A kept mapping of at least `size` bytes, taken out; {nullptr, 0} if there is none (or the
  // lock is taken).
  Mapping Take(size_t size) {
    Mapping found;
    if (busy_.test_and_set(std::memory_order_acquire)) return found;
    for (Mapping& m : kept_) {
      if (m.data != nullptr && m.length >= size) {
        found = std::exchange(m, Mapping());
        break;
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
      if (slot.data == nullptr) {
        slot = m;
        kept = true;
        break;
      }
    }
    busy_.clear(std::memory_order_release);
    return kept;
  }

 private:
  std::atomic_flag busy_ = ATOMIC_FLAG_INIT;
  Mapping kept_[MappedBuffer::kRecycledMappings];
};

KeptMappings g_kept;

absl::StatusOr<char*> Map(size_t length) {
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot map a buffer of ", length, " bytes: ", std::strerror(errno)));
  }
  return static_cast<char*>(p);
}

}  // namespace

absl::StatusOr<MappedBuffer> MappedBuffer::Create(size_t size) {
  if (size == 0) return MappedBuffer();
  absl::StatusOr<char*> data = Map(size);
  if (!data.ok()) return data.status();
  return MappedBuffer(*data, size, size, /*recycled=*/false);
}

absl::StatusOr<MappedBuffer> MappedBuffer::CreateRecycled(size_t size) {
  if (size == 0) return MappedBuffer();
  const KeptMappings::Mapping kept = g_kept.Take(size);
  if (kept.data != nullptr) return MappedBuffer(kept.data, size, kept.length, /*recycled=*/true);
  const size_t length = (size + kRecycledGranule - 1) / kRecycledGranule * kRecycledGranule;
  absl::StatusOr<char*> data = Map(length);
  if (!data.ok()) return data.status();
  return MappedBuffer(*data, size, length, /*recycled=*/true);
}

MappedBuffer::MappedBuffer(MappedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)),
      recycled_(std::exchange(other.recycled_, false)) {}

MappedBuffer& MappedBuffer::operator=(MappedBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
    recycled_ = std::exchange(other.recycled_, false);
  }
  return *this;
}

MappedBuffer::~MappedBuffer() { Release(); }

void MappedBuffer::Release() {
  if (data_ == nullptr) return;
  // A kept mapping's pages stay until the kernel needs them (MADV_FREE): reused, they are
  // written without a fault; taken back, they read as zeros, which the next owner overwrites.
  const bool kept = recycled_ && mapped_ <= kMaxRecycledBytes &&
                    madvise(data_, mapped_, MADV_FREE) == 0 && g_kept.Keep({data_, mapped_});
  if (!kept) munmap(data_, mapped_);
  data_ = nullptr;
  size_ = 0;
  mapped_ = 0;
  recycled_ = false;
}

}  // namespace hfshim
