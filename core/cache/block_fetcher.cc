#include "core/cache/block_fetcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/hash.h"
#include "core/base/log.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/stats/stats.h"
#include "core/store/range_sink.h"

namespace hfshim {
namespace {
constexpr int kChecksumAttempts = 3;
}  // namespace

absl::Status BlockFetcher::Counted(uint64_t len, const std::function<absl::Status()>& get) {
  const absl::Time start = absl::Now();
  Count(Counter::kFetchesInFlight);
  absl::Status s = get();
  Uncount(Counter::kFetchesInFlight);
  const uint64_t micros = absl::ToInt64Microseconds(absl::Now() - start);
  ++requests_;
  Count(Counter::kFetchRequests);
  Count(Counter::kFetchMicros, micros);
  RecordFetchLatency(micros);
  if (s.ok()) {
    bytes_fetched_ += len;
    Count(Counter::kFetchBytes, len);
    Count(Counter::kCacheBlockMisses, (len + block_size_ - 1) / std::max<uint64_t>(block_size_, 1));
  }
  return s;
}

absl::Status BlockFetcher::Get(const std::string& key, uint64_t off, uint64_t len, std::string* out,
                               absl::Time deadline) {
  return Counted(len, [&] { return store_->GetRange(key, off, len, out, deadline); });
}

absl::Status BlockFetcher::GetInto(const std::string& key, uint64_t off, MappedBuffer* buffer,
                                   absl::Time deadline) {
  const uint64_t len = buffer->size();
  BufferSink sink(buffer->span());
  RETURN_IF_ERROR(Counted(len, [&] { return store_->GetRangeTo(key, off, len, &sink, deadline); }));
  if (sink.filled() != len) {
    return absl::DataLossError(
        absl::StrCat(key, ": ", sink.filled(), " of ", len, " requested bytes arrived"));
  }
  return absl::OkStatus();
}

absl::Status BlockFetcher::CheckBlocks(const Entry& entry, absl::string_view data,
                                       size_t first_block) {
  const uint64_t bs = entry.block_size;
  for (size_t i = 0; i * bs < data.size(); ++i) {
    const size_t b = first_block + i;
    if (b >= entry.block_checksums.size() ||
        BlockChecksum(data.substr(i * bs, bs)) != entry.block_checksums[b]) {
      ++checksum_failures_;
      Count(Counter::kChecksumFailures);
      return absl::DataLossError(absl::StrCat("block ", b, " of content ", entry.content_hash.Hex(),
                                              " (", entry.location.object_key,
                                              "): checksum mismatch"));
    }
  }
  return absl::OkStatus();
}

absl::Status BlockFetcher::GetVerified(const Entry& entry, uint64_t off, uint64_t len,
                                       std::string* out, absl::Time deadline) {
  const size_t first_block = entry.block_size == 0 ? 0 : off / entry.block_size;
  absl::Status s;
  for (int attempt = 0; attempt < kChecksumAttempts; ++attempt) {
    s = Get(entry.location.object_key, entry.location.offset + off, len, out, deadline);
    if (s.ok()) s = CheckBlocks(entry, *out, first_block);
    if (s.ok() || !absl::IsDataLoss(s)) return s;
  }
  Log(LogLevel::kError, absl::StrCat(s.message(), " after ", kChecksumAttempts,
                                     " fetches; the store object is damaged: push it again"));
  return s;
}

absl::Status BlockFetcher::FetchBlocks(const Entry& entry, BlockWriter* writer,
                                       absl::Time deadline) {
  absl::Status s;
  for (int attempt = 0; attempt < kChecksumAttempts; ++attempt) {
    const uint64_t kept = writer->Rewind();
    const uint64_t len = writer->length() - kept;
    const int mismatches = writer->mismatches();
    s = Counted(len, [&] {
      return store_->GetRangeTo(entry.location.object_key,
                                entry.location.offset + writer->offset() + kept, len, writer,
                                deadline);
    });
    if (writer->mismatches() > mismatches) {
      ++checksum_failures_;
      Count(Counter::kChecksumFailures);
    }
    if (s.ok() || !absl::IsDataLoss(s)) return s;
  }
  Log(LogLevel::kError, absl::StrCat(s.message(), " after ", kChecksumAttempts,
                                     " fetches; the store object is damaged: push it again"));
  return s;
}

absl::Status ExplainCacheWriteError(const absl::Status& s, const std::string& path) {
  const int err = StatusToErrno(s);
  if (err == ENOSPC || err == EDQUOT) {
    return PosixError(err, absl::StrCat("node cache is full writing ", path,
                                        "; free space, lower HFSHIM_CACHE_SIZE or point "
                                        "HFSHIM_CACHE_DIR elsewhere"));
  }
  return s;
}

}  // namespace hfshim
