// MappedBuffer: a fixed-size byte buffer in an anonymous mapping of its own, given back to the
// kernel when destroyed.
//
// For large transient buffers (pack windows of several MiB): malloc keeps such blocks in the
// heap after they are freed (glibc raises its mmap threshold to the size of a freed mapped
// block), which grew a preloaded process's RSS by tens of MiB that it never returned.
//
// Thread-safety: a value type; concurrent reads of one buffer are safe.
#ifndef HFSHIM_CORE_BASE_MAPPED_BUFFER_H_
#define HFSHIM_CORE_BASE_MAPPED_BUFFER_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace hfshim {

class MappedBuffer {
 public:
  // `size` bytes, zero-filled (pages appear as they are touched). ResourceExhausted if the
  // mapping fails. A size of 0 gives an empty buffer.
  static absl::StatusOr<MappedBuffer> Create(size_t size);

  MappedBuffer() = default;
  MappedBuffer(MappedBuffer&& other) noexcept;
  MappedBuffer& operator=(MappedBuffer&& other) noexcept;
  MappedBuffer(const MappedBuffer&) = delete;
  MappedBuffer& operator=(const MappedBuffer&) = delete;
  ~MappedBuffer();

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  absl::Span<char> span() { return absl::Span<char>(data_, size_); }
  absl::string_view view() const { return absl::string_view(data_, size_); }

 private:
  MappedBuffer(char* data, size_t size) : data_(data), size_(size) {}
  void Release();

  char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_MAPPED_BUFFER_H_
