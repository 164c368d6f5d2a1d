#include "core/store/http/ranged_get.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/parallel_parts.h"
#include "core/base/status_macros.h"

namespace hfshim {

namespace {

// A 206 must answer the range asked for: Content-Range (if present) starts at `offset`.
absl::Status CheckRangeStart(const HttpResponse& response, uint64_t offset, uint64_t length,
                             absl::string_view what) {
  const std::string* cr = response.Header("content-range");
  if (cr == nullptr) return absl::OkStatus();
  absl::string_view v(*cr);
  if (absl::StartsWith(v, "bytes ")) v.remove_prefix(6);
  const size_t dash = v.find('-');
  uint64_t first = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(v.substr(0, dash), &first) ||
      first != offset) {
    return absl::UnavailableError(absl::StrCat(what, ": server answered range '", *cr,
                                               "' to a request for ", RangeHeader(offset, length)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string RangeHeader(uint64_t offset, uint64_t length) {
  return absl::StrCat("bytes=", offset, "-", offset + length - 1);
}

int64_t TotalFromContentRange(const HttpResponse& response) {
  const std::string* cr = response.Header("content-range");
  if (cr == nullptr) return -1;
  const size_t slash = cr->rfind('/');
  int64_t total = -1;
  if (slash == std::string::npos || !absl::SimpleAtoi(cr->substr(slash + 1), &total)) return -1;
  return total;
}

absl::Status TakeRange(HttpResponse* response, uint64_t offset, uint64_t length,
                       absl::string_view what, std::string* out) {
  std::string& body = response->body;
  if (response->status == 200) {  // the server ignored Range and sent the whole object
    if (offset + length > body.size()) {
      return absl::OutOfRangeError(absl::StrCat("range ", offset, "+", length, " ends past ", what,
                                                " (", body.size(), " bytes)"));
    }
    if (offset == 0 && length == body.size()) {
      *out = std::move(body);
    } else {
      out->assign(body, offset, length);
    }
    return absl::OkStatus();
  }
  if (response->status != 206) {
    return absl::UnavailableError(
        absl::StrCat(what, ": unexpected HTTP ", response->status, " to a ranged GET"));
  }
  if (absl::Status s = CheckRangeStart(*response, offset, length, what); !s.ok()) return s;
  if (body.size() != length) {
    const int64_t total = TotalFromContentRange(*response);
    if (body.size() < length && total >= 0 && offset + length > static_cast<uint64_t>(total)) {
      return absl::OutOfRangeError(
          absl::StrCat("range ", offset, "+", length, " ends past ", what, " (", total, " bytes)"));
    }
    return absl::UnavailableError(
        absl::StrCat(what, ": ranged GET returned ", body.size(), " bytes instead of ", length));
  }
  *out = std::move(body);
  return absl::OkStatus();
}

absl::Status RangeFeeder::OnBody(const HttpResponse& head, absl::string_view data) {
  if (head.status != 200 && head.status != 206) {
    return absl::UnavailableError(
        absl::StrCat(what_, ": unexpected HTTP ", head.status, " to a ranged GET"));
  }
  if (head.status == 206 && seen_ == 0) {
    if (absl::Status s = CheckRangeStart(head, offset_, length_, what_); !s.ok()) return s;
  }
  // The chunk holds body bytes [seen_, seen_ + size); the range is body bytes [start, end): from
  // 0 in a 206, from `offset_` in a 200 (the whole object).
  const uint64_t start = head.status == 206 ? 0 : offset_;
  const uint64_t end = start + length_;
  const uint64_t lo = std::max(seen_, start);
  const uint64_t hi = std::min(seen_ + data.size(), end);
  const uint64_t chunk_start = seen_;
  seen_ += data.size();
  if (head.status == 206 && seen_ > end) {
    return absl::UnavailableError(
        absl::StrCat(what_, ": ranged GET returned more than ", length_, " bytes"));
  }
  if (hi <= lo) return absl::OkStatus();  // before the range in a whole object, or after it
  fed_ += hi - lo;
  return FeedSink(data.substr(lo - chunk_start, hi - lo), sink_);
}

absl::Status RangeFeeder::Finish(const HttpResponse& response) const {
  if (fed_ == length_) return absl::OkStatus();
  if (response.status == 200) {
    return absl::OutOfRangeError(absl::StrCat("range ", offset_, "+", length_, " ends past ", what_,
                                              " (", seen_, " bytes)"));
  }
  const int64_t total = TotalFromContentRange(response);
  if (total >= 0 && offset_ + length_ > static_cast<uint64_t>(total)) {
    return absl::OutOfRangeError(absl::StrCat("range ", offset_, "+", length_, " ends past ", what_,
                                              " (", total, " bytes)"));
  }
  return absl::UnavailableError(
      absl::StrCat(what_, ": ranged GET returned ", fed_, " bytes instead of ", length_));
}

absl::Status FetchInParts(uint64_t offset, uint64_t length, uint64_t part_size, int parallel,
                          const RangeFetcher& fetch, std::string* out) {
  if (parallel <= 1 || part_size == 0 || length <= 2 * part_size) {
    return fetch(offset, length, out);
  }
  const uint64_t parts = (length + part_size - 1) / part_size;
  out->resize(length);
  std::vector<std::string> buffers(std::min<uint64_t>(parallel, parts));  // one per worker
  absl::Status s = RunParts(parts, parallel, [&](uint64_t i, int worker) {
    const uint64_t off = i * part_size;
    const uint64_t len = std::min(part_size, length - off);
    std::string& buf = buffers[worker];
    RETURN_IF_ERROR(fetch(offset + off, len, &buf));
    if (buf.size() != len) return absl::InternalError("part fetch returned a wrong size");
    std::memcpy(out->data() + off, buf.data(), len);
    return absl::OkStatus();
  });
  if (!s.ok()) out->clear();
  return s;
}

}  // namespace hfshim
