#include "core/store/object_store.h"

namespace hfshim {

absl::Status ObjectStore::GetRangeTo(absl::string_view key, uint64_t offset, uint64_t length,
                                     RangeSink* sink, absl::Time deadline) {
  std::string data;
  if (absl::Status s = GetRange(key, offset, length, &data, deadline); !s.ok()) return s;
  return FeedSink(data, sink);
}

}  // namespace hfshim
