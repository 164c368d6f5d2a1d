// Object key layout of a store (specified in core/store/FORMAT.md):
//   data/<hash32>            content of one large file, named by its XXH3-128 content hash
//   packs/<hash32>           a pack of small files (see core/push/FORMAT.md)
//   index/<hash32>.mdb       an index generation (LMDB file, see core/index/FORMAT.md)
//   heads/<20-digit number>  head record N: which index generation is current after push N
// Heads are only ever created with PutIfAbsent, so the highest existing number is the current
// state and two pushers can never both create the same N.
#ifndef HFSHIM_CORE_STORE_LAYOUT_H_
#define HFSHIM_CORE_STORE_LAYOUT_H_

#include <cstdint>
#include <string>

#include "core/base/hash.h"

namespace hfshim {

inline constexpr char kDataPrefix[] = "data/";
inline constexpr char kPackPrefix[] = "packs/";
inline constexpr char kIndexPrefix[] = "index/";
inline constexpr char kHeadPrefix[] = "heads/";

std::string DataKey(const Hash128& content);
std::string PackKey(const Hash128& pack_content);
std::string IndexKey(const Hash128& index_content);
std::string HeadKey(uint64_t sequence);
// Parses "heads/<20 digits>"; false otherwise.
bool ParseHeadKey(absl::string_view key, uint64_t* sequence);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_LAYOUT_H_
