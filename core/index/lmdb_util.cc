#include "core/index/lmdb_util.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/index/index_reader.h"

namespace hfshim {

absl::Status LmdbError(int rc, absl::string_view what, absl::string_view path) {
  std::string msg = absl::StrCat(what, " ", path, ": ", mdb_strerror(rc));
  if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ||
      rc == MDB_VERSION_MISMATCH || rc == MDB_NOTFOUND || rc == EINVAL) {
    return absl::DataLossError(
        absl::StrCat(msg, "; the index generation is damaged: delete it so it is fetched again"));
  }
  if (rc == MDB_MAP_FULL) {
    return absl::ResourceExhaustedError(absl::StrCat(
        msg,
        "; the index outgrew the address space or file size this process may use: raise "
        "ulimit -v and ulimit -f"));
  }
  return absl::InternalError(msg);
}

std::string PackMemberKey(absl::string_view pack_key, uint64_t offset) {
  std::string key(pack_key);
  key.push_back('\0');
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((offset >> shift) & 0xff));
  }
  return key;
}

std::string EncodeMeta(const IndexMeta& m) {
  std::string out(28, '\0');
  std::memcpy(&out[0], &m.format_version, 4);
  std::memcpy(&out[4], &m.sequence, 8);
  std::memcpy(&out[12], &m.created_unix_ns, 8);
  std::memcpy(&out[20], &m.entry_count, 8);
  return out;
}

bool DecodeMeta(absl::string_view b, IndexMeta* m) {
  if (b.size() != 28) return false;
  std::memcpy(&m->format_version, &b[0], 4);
  std::memcpy(&m->sequence, &b[4], 8);
  std::memcpy(&m->created_unix_ns, &b[12], 8);
  std::memcpy(&m->entry_count, &b[20], 8);
  return true;
}

}  // namespace hfshim
