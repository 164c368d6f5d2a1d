// The little XML S3 speaks to us: error documents, ListObjectsV2 pages and multipart replies.
// A tag-scanning reader, enough for S3's flat, namespace-free answers (no attributes are needed,
// CDATA does not occur); entities (&amp; &lt; &gt; &quot; &apos; &#N; &#xN;) are decoded.
//
// Thread-safe (no state).
#ifndef HFSHIM_CORE_STORE_S3_S3_XML_H_
#define HFSHIM_CORE_STORE_S3_S3_XML_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/store/object_store.h"

namespace hfshim {

// The decoded text of the first <tag>...</tag> in `xml`, or "" if there is none.
std::string XmlText(absl::string_view xml, absl::string_view tag);

// The raw inner XML of every <tag>...</tag> in `xml`, in order.
std::vector<absl::string_view> XmlElements(absl::string_view xml, absl::string_view tag);

// Decodes XML entities; malformed ones are kept as they are.
std::string XmlUnescape(absl::string_view text);

// Escapes & < > " ' for element text.
std::string XmlEscape(absl::string_view text);

struct ListPage {
  std::vector<ObjectInfo> objects;  // full keys (the store prefix included)
  bool truncated = false;
  std::string next_token;  // NextContinuationToken when truncated
};

// Parses a ListObjectsV2 result. DataLoss if it is not one (names the first bytes).
absl::StatusOr<ListPage> ParseListObjectsV2(absl::string_view xml);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_S3_S3_XML_H_
