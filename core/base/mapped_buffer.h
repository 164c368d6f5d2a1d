// MappedBuffer: a fixed-size byte buffer in an anonymous mapping of its own, given back to the
// kernel when destroyed, or recycled.
//
// For large transient buffers (pack windows of several MiB): malloc keeps such blocks in the
// heap after they are freed (glibc raises its mmap threshold to the size of a freed mapped
// block), which grew a preloaded process's RSS by tens of MiB that it never returned.
// Recycled buffers (CreateRecycled) are for buffers made one after another, like the windows of
// a pass over a dataset: the mappings of up to kRecycledMappings destroyed ones (of at most
// kMaxRecycledBytes each) are kept, marked MADV_FREE (the kernel may take their pages under
// memory pressure), and handed to the next CreateRecycled, which then writes into pages that
// are already there instead of faulting in and zeroing fresh ones (a cold pass over 10,000
// small files, two A/B series of 5 pairs: median +2% and +7% files/s, 4-10% less CPU).
//
// Shared buffers (CreateShared) live in a memory file (memfd) of their own, so that other
// processes of the node can read the bytes while this one holds them, through
// /proc/<pid>/fd/<shared_fd()> (pack windows: core/cache/FORMAT.md), without a copy on disk.
//
// Thread-safety: a value type; concurrent reads of one buffer are safe. Create, CreateRecycled
// and destruction may run on any threads at once, also in a fork child of a process that was
// doing so (the kept mappings are guarded by a try-lock: a thread that finds it taken maps or
// unmaps as if there were none kept, and never waits).
#ifndef HFSHIM_CORE_BASE_MAPPED_BUFFER_H_
#define HFSHIM_CORE_BASE_MAPPED_BUFFER_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace hfshim {
namespace mapped_buffer_internal {

// A shared buffer's memory file, as its maker opened it. The fd may be closed behind the
// buffer's back (a program's closefrom) and its number reused for another file: its identity
// is checked before it is named to other processes or closed.
struct SharedFile {
  int fd = -1;
  pid_t owner = 0;  // the process that made it (a fork child shares the mapping too)
  dev_t dev = 0;
  ino_t ino = 0;
  // Whether `fd` is still this file (an fstat).
  bool Ours() const;
  // Closes `fd` if it is still this file; never what reused its number.
  void Close() const;
};

}  // namespace mapped_buffer_internal

class MappedBuffer {
 public:
  // `size` bytes, zero-filled (pages appear as they are touched). ResourceExhausted if the
  // mapping fails. A size of 0 gives an empty buffer.
  static absl::StatusOr<MappedBuffer> Create(size_t size);
  // `size` bytes of unspecified contents, in a recycled mapping when one of at least `size`
  // bytes is kept, else in a fresh one (of `size` rounded up to a MiB, so that windows of
  // slightly different sizes reuse each other's). Same errors as Create.
  static absl::StatusOr<MappedBuffer> CreateRecycled(size_t size);
  // `size` bytes of unspecified contents at offset `lead` of a memory file of their own (memfd,
  // close-on-exec), their pages allocated at once (one call, not a fault per page). Recycled
  // like CreateRecycled, but only within the process that made the mapping (a fork child shares
  // its parent's), and kept pages stay resident (at most kRecycledMappings mappings of up to
  // 8 MiB). Unavailable if the kernel refuses a memory file, ResourceExhausted if the mapping
  // fails.
  static absl::StatusOr<MappedBuffer> CreateShared(size_t size, size_t lead);
  // In a fork child: unmaps and closes the shared mappings kept by the parent (the child would
  // never reuse them; CreateShared would drop them at its first call otherwise).
  static void DropInheritedShared();
  static constexpr size_t kRecycledMappings = 2;
  static constexpr size_t kMaxRecycledBytes = size_t{16} << 20;

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
  // The memory file of a shared buffer (the bytes at offset `lead`), or -1 (also if its fd was
  // closed behind the buffer's back). Closed with the buffer. Costs an fstat.
  int shared_fd() const { return shared_.Ours() ? shared_.fd : -1; }

 private:
  MappedBuffer(char* data, size_t size, size_t mapped, bool recycled)
      : data_(data), size_(size), mapped_(mapped), recycled_(recycled) {}
  void Release();

  char* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;                          // the mapping's length (>= size_)
  bool recycled_ = false;                      // offered to the kept mappings when destroyed
  size_t lead_ = 0;                            // the mapping starts this many bytes before data_
  mapped_buffer_internal::SharedFile shared_;  // a shared buffer's memory file
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_MAPPED_BUFFER_H_
