// Helpers shared by the stores that read over HTTP (S3 and plain HTTP): the Range header, the
// check that a response carries exactly the bytes asked for, and parallel GETs of large ranges.
//
// Thread-safe (no state).
#ifndef HFSHIM_CORE_STORE_HTTP_RANGED_GET_H_
#define HFSHIM_CORE_STORE_HTTP_RANGED_GET_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/store/http/http_client.h"
#include "core/store/range_sink.h"

namespace hfshim {

// "bytes=<offset>-<offset+length-1>". Requires length > 0.
std::string RangeHeader(uint64_t offset, uint64_t length);

// Takes the bytes [offset, offset + length) out of a successful (2xx) response to a ranged GET
// of `what` into *out. A 206 must carry exactly that range (Content-Range is checked); a 200 (a
// server that ignores Range) carries the whole object and the range is cut from it.
// OutOfRange if the object ends before offset + length; Unavailable (retryable) if the body is
// shorter than the range without the object being shorter. On OK, out->size() == length.
absl::Status TakeRange(HttpResponse* response, uint64_t offset, uint64_t length,
                       absl::string_view what, std::string* out);

// Streams the body of a successful response to a ranged GET of [offset, offset + length) of
// `what` into a sink, with the checks of TakeRange: a 206 must start at `offset`
// (Content-Range); a 200 (a server that ignores Range) carries the whole object, from which the
// range is cut. Use OnBody as HttpRequest::on_body, then Finish once the response is complete.
// One request at a time; not thread-safe.
class RangeFeeder {
 public:
  RangeFeeder(uint64_t offset, uint64_t length, std::string what, RangeSink* sink)
      : offset_(offset), length_(length), what_(std::move(what)), sink_(sink) {}

  absl::Status OnBody(const HttpResponse& head, absl::string_view data);
  // OnBody as a body callback (HttpRequest::on_body, S3Call::on_body); the feeder must outlive
  // the request.
  std::function<absl::Status(const HttpResponse&, absl::string_view)> BodyCallback() {
    return [this](const HttpResponse& head, absl::string_view data) { return OnBody(head, data); };
  }

  // After a complete 2xx `response`: OK iff the sink got exactly `length` bytes. OutOfRange if
  // the object ends before offset + length; Unavailable (retryable) for any other short body.
  absl::Status Finish(const HttpResponse& response) const;

 private:
  const uint64_t offset_, length_;
  const std::string what_;
  RangeSink* const sink_;
  uint64_t seen_ = 0;  // body bytes received
  uint64_t fed_ = 0;   // of which fed to the sink
};

// The object size from "Content-Range: bytes a-b/total", or -1 if absent or "*".
int64_t TotalFromContentRange(const HttpResponse& response);

// Fetches [offset, offset + length) into *out with `fetch`, which reads one part. Ranges longer
// than 2 * part_size are split into part_size pieces fetched by up to `parallel` threads; the
// first error wins. On OK, out->size() == length.
using RangeFetcher = std::function<absl::Status(uint64_t offset, uint64_t length, std::string*)>;
absl::Status FetchInParts(uint64_t offset, uint64_t length, uint64_t part_size, int parallel,
                          const RangeFetcher& fetch, std::string* out);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_HTTP_RANGED_GET_H_
