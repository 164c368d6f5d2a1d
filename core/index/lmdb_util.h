// Small helpers shared by the index writer and reader: LMDB error statuses, named databases and
// the big-endian encoding used in keys. Internal to core/index.
#ifndef HFSHIM_CORE_INDEX_LMDB_UTIL_H_
#define HFSHIM_CORE_INDEX_LMDB_UTIL_H_

#include <lmdb.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace hfshim {

inline constexpr char kEntriesDb[] = "entries";
inline constexpr char kMetaDb[] = "meta";
inline constexpr char kPacksDb[] = "packs";
inline constexpr char kMetaKey[] = "meta";

// DataLoss for errors that mean a broken file, Internal otherwise; names `what` and `path`.
absl::Status LmdbError(int rc, absl::string_view what, absl::string_view path);

inline MDB_val Val(absl::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline absl::string_view View(const MDB_val& v) {
  return absl::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// packs db key: pack object key, '\0', big-endian offset (so members sort by offset).
std::string PackMemberKey(absl::string_view pack_key, uint64_t offset);

// The meta record: u32 version, u64 sequence, i64 created_unix_ns, u64 entry_count (LE).
struct IndexMeta;
std::string EncodeMeta(const IndexMeta& meta);
bool DecodeMeta(absl::string_view bytes, IndexMeta* meta);

}  // namespace hfshim

#endif  // HFSHIM_CORE_INDEX_LMDB_UTIL_H_
