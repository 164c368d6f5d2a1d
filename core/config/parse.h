// Parsers for setting values. Each returns false on malformed input and leaves *out unchanged.
#ifndef HFSHIM_CORE_CONFIG_PARSE_H_
#define HFSHIM_CORE_CONFIG_PARSE_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace hfshim {

// "4194304", "4M", "4MiB", "4MB", "100G", "1.5T": binary multiples (K = 1024). Rejects negatives.
bool ParseBytes(absl::string_view text, uint64_t* out);
// A decimal number of seconds >= 0 ("30", "0.5").
bool ParseSeconds(absl::string_view text, double* out);
// 1/0, true/false, yes/no, on/off (any case).
bool ParseBool(absl::string_view text, bool* out);
// A whole number in [min, max].
bool ParseInt(absl::string_view text, int min, int max, int* out);

}  // namespace hfshim

#endif  // HFSHIM_CORE_CONFIG_PARSE_H_
