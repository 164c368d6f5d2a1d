#include "core/store/layout.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hfshim {

std::string DataKey(const Hash128& content) { return absl::StrCat(kDataPrefix, content.Hex()); }
std::string PackKey(const Hash128& pack) { return absl::StrCat(kPackPrefix, pack.Hex()); }
std::string IndexKey(const Hash128& index) {
  return absl::StrCat(kIndexPrefix, index.Hex(), ".mdb");
}
std::string HeadKey(uint64_t sequence) { return absl::StrFormat("%s%020u", kHeadPrefix, sequence); }

bool ParseHeadKey(absl::string_view key, uint64_t* sequence) {
  if (!absl::StartsWith(key, kHeadPrefix)) return false;
  absl::string_view digits = key.substr(sizeof(kHeadPrefix) - 1);
  if (digits.size() != 20) return false;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(digits, sequence);
}

}  // namespace hfshim
