#include "core/cache/block_writer.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace hfshim {
namespace {
constexpr size_t kAlign = 4096;
}  // namespace

BlockWriter::BlockWriter(PartialFile* file, size_t first, size_t count, absl::Span<char> staging)
    : file_(file),
      first_(first),
      block_size_(file->entry().block_size),
      begin_(uint64_t{first} * block_size_),
      end_(std::min<uint64_t>(file->entry().size, uint64_t{first + count} * block_size_)),
      staging_(staging),
      pos_(begin_) {}

absl::Span<char> BlockWriter::Room() {
  // Never across a block's end, so each flush belongs to one block.
  const uint64_t block_end = std::min(end_, (pos_ / block_size_ + 1) * block_size_);
  const size_t room = std::min<uint64_t>(staging_.size() - staged_, block_end - pos_);
  return staging_.subspan(staged_, room);
}

absl::Status BlockWriter::Filled(size_t n) {
  hasher_.Update(absl::string_view(staging_.data() + staged_, n));
  staged_ += n;
  pos_ += n;
  const bool block_end = pos_ == end_ || pos_ % block_size_ == 0;
  if (staged_ == staging_.size() || block_end) return Flush();
  return absl::OkStatus();
}

absl::Status BlockWriter::Flush() {
  absl::Status s = file_->WriteAt(pos_ - staged_, absl::string_view(staging_.data(), staged_));
  staged_ = 0;
  if (!s.ok()) return s;
  if (pos_ != end_ && pos_ % block_size_ != 0) return absl::OkStatus();
  const size_t block = (pos_ - 1) / block_size_;
  const Entry& e = file_->entry();
  const uint64_t sum = hasher_.Finish();
  hasher_.Reset();
  if (block >= e.block_checksums.size() || sum != e.block_checksums[block]) {
    ++mismatches_;
    return absl::DataLossError(absl::StrCat("block ", block, " of content ", e.content_hash.Hex(),
                                            " (", e.location.object_key, "): checksum mismatch"));
  }
  s = file_->MarkPresent(block);
  if (s.ok()) ++done_;
  return s;
}

uint64_t BlockWriter::Rewind() {
  staged_ = 0;
  hasher_.Reset();
  pos_ = begin_ + uint64_t{done_} * block_size_;
  return pos_ - begin_;
}

absl::Span<char> ThreadStagingBuffer(size_t bytes) {
  struct Free {
    void operator()(char* p) const { free(p); }
  };
  thread_local std::unique_ptr<char, Free> buffer;
  thread_local size_t capacity = 0;
  bytes = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
  if (capacity < bytes) {
    buffer.reset(static_cast<char*>(aligned_alloc(kAlign, bytes)));
    capacity = buffer ? bytes : 0;
  }
  return absl::Span<char>(buffer.get(), capacity == 0 ? 0 : bytes);
}

}  // namespace hfshim
