#include "core/store/range_sink.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace hfshim {

absl::Status FeedSink(absl::string_view data, RangeSink* sink) {
  while (!data.empty()) {
    const absl::Span<char> room = sink->Room();
    if (room.empty()) {
      return absl::OutOfRangeError(
          absl::StrCat("the read delivered ", data.size(), " bytes more than the range"));
    }
    const size_t n = std::min(room.size(), data.size());
    memcpy(room.data(), data.data(), n);
    if (absl::Status s = sink->Filled(n); !s.ok()) return s;
    data.remove_prefix(n);
  }
  return absl::OkStatus();
}

}  // namespace hfshim
