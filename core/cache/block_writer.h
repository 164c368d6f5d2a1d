// BlockWriter: the RangeSink that fills blocks of a PartialFile straight from a streamed GET.
// The bytes of blocks [first, first + count) arrive in order into a small staging buffer; each
// staging buffer's worth is written to the data file at its offset while the block's XXH3-64 is
// computed over the same (cache-hot) bytes. A block is marked present only once all its bytes
// are written and its checksum equals the index's; a mismatch leaves it unmarked and stops the
// GET with DataLoss, so a corrupt or truncated body is never marked (FORMAT.md: bytes before
// the mark). Memory: the staging buffer, whatever the number of blocks.
//
// Thread-safety: one thread at a time (the one running the GET). The caller holds the fill locks
// of the blocks (in this process and across processes) and found them missing.
#ifndef HFSHIM_CORE_CACHE_BLOCK_WRITER_H_
#define HFSHIM_CORE_CACHE_BLOCK_WRITER_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/base/hash.h"
#include "core/cache/partial_file.h"
#include "core/store/range_sink.h"

namespace hfshim {

class BlockWriter final : public RangeSink {
 public:
  // Writes blocks [first, first + count) of `file` (count >= 1, within the file) through
  // `staging` (non-empty). Both must outlive the writer.
  BlockWriter(PartialFile* file, size_t first, size_t count, absl::Span<char> staging);

  absl::Span<char> Room() override;
  absl::Status Filled(size_t n) override;
  // Keeps the blocks already marked; the bytes of a block not yet complete are dropped (written
  // again by the next read).
  uint64_t Rewind() override;

  // Content bytes [offset, offset + length) the writer covers.
  uint64_t offset() const { return begin_; }
  uint64_t length() const { return end_ - begin_; }
  // Blocks marked present so far.
  size_t blocks_done() const { return done_; }
  // Checksum mismatches seen so far.
  int mismatches() const { return mismatches_; }

 private:
  // Writes the staged bytes at their offset; at the end of a block, checks and marks it.
  absl::Status Flush();

  PartialFile* const file_;
  const size_t first_;
  const uint64_t block_size_, begin_, end_;  // content offsets
  const absl::Span<char> staging_;
  uint64_t pos_;       // content offset of the next byte expected
  size_t staged_ = 0;  // bytes in staging_, ending at pos_
  size_t done_ = 0;    // blocks marked, from first_
  int mismatches_ = 0;
  BlockHasher hasher_;  // of the current block's bytes so far
};

// A page-aligned staging buffer of `bytes` (rounded up to 4 KiB), owned by the calling
// thread and reused by its later fills (so its pages stay warm). Valid until the thread's next
// call or its exit.
absl::Span<char> ThreadStagingBuffer(size_t bytes);

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_BLOCK_WRITER_H_
