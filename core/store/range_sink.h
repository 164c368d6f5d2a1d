// RangeSink: where a streamed ranged read (ObjectStore::GetRangeTo) puts the bytes it receives,
// in order, as they arrive, so a caller can verify and store them without holding the whole
// range in memory.
//
// Thread-safety: one read feeds a sink at a time, from one thread at a time.
#ifndef HFSHIM_CORE_STORE_RANGE_SINK_H_
#define HFSHIM_CORE_STORE_RANGE_SINK_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace hfshim {

class RangeSink {
 public:
  virtual ~RangeSink() = default;

  // Memory for the next bytes of the range. Non-empty while the sink still expects bytes.
  virtual absl::Span<char> Room() = 0;

  // The first `n` bytes of the last Room() (n <= its size) now hold the next bytes of the range.
  // A non-OK status (e.g. DataLoss for a checksum mismatch) stops the read, which returns it.
  virtual absl::Status Filled(size_t n) = 0;

  // Before the range is read again (a retry, another store): drops the bytes it has received but
  // not kept, and returns how many leading bytes of the range it keeps; the next bytes it is fed
  // are those at that position of the range.
  virtual uint64_t Rewind() = 0;
};

// A sink over caller memory: the bytes land in `buffer` in order. Rewind keeps what it has.
class BufferSink final : public RangeSink {
 public:
  explicit BufferSink(absl::Span<char> buffer) : buffer_(buffer) {}
  absl::Span<char> Room() override { return buffer_.subspan(filled_); }
  absl::Status Filled(size_t n) override {
    filled_ += n;
    return absl::OkStatus();
  }
  uint64_t Rewind() override { return filled_; }
  size_t filled() const { return filled_; }

 private:
  const absl::Span<char> buffer_;
  size_t filled_ = 0;
};

// Copies `data`, the next bytes of the range, into `sink`. Errors: those of Filled(), or
// OutOfRange if the sink has no room for all of `data`.
absl::Status FeedSink(absl::string_view data, RangeSink* sink);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_RANGE_SINK_H_
