#include "core/config/parse.h"

#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace hfshim {

bool ParseBytes(absl::string_view text, uint64_t* out) {
  std::string t = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  if (t.empty()) return false;
  for (absl::string_view unit : {"IB", "B"}) {
    if (t.size() > unit.size() && absl::EndsWith(t, unit)) {
      t.resize(t.size() - unit.size());
      break;
    }
  }
  double multiplier = 1;
  switch (t.back()) {
    case 'K':
      multiplier = 1024.0;
      break;
    case 'M':
      multiplier = 1024.0 * 1024;
      break;
    case 'G':
      multiplier = 1024.0 * 1024 * 1024;
      break;
    case 'T':
      multiplier = 1024.0 * 1024 * 1024 * 1024;
      break;
    default:
      break;
  }
  if (multiplier != 1) t.pop_back();
  double value = 0;
  if (t.empty() || !absl::SimpleAtod(t, &value) || !(value >= 0) || std::isinf(value)) return false;
  double bytes = value * multiplier;
  if (bytes > 1.8e19) return false;
  *out = static_cast<uint64_t>(bytes);
  return true;
}

bool ParseSeconds(absl::string_view text, double* out) {
  double value = 0;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(text), &value) || !(value >= 0) ||
      std::isinf(value)) {
    return false;
  }
  *out = value;
  return true;
}

bool ParseBool(absl::string_view text, bool* out) {
  std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (t == "1" || t == "true" || t == "yes" || t == "on") {
    *out = true;
    return true;
  }
  if (t == "0" || t == "false" || t == "no" || t == "off" || t.empty()) {
    *out = false;
    return true;
  }
  return false;
}

bool ParseInt(absl::string_view text, int min, int max, int* out) {
  int value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value) || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

}  // namespace hfshim
