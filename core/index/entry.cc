#include "core/index/entry.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace hfshim {
namespace {

constexpr uint8_t kEntryVersion = 1;
constexpr uint8_t kLinkedSymlinkVersion = 2;  // a symlink with link_hops and link_record

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // x86_64 is little-endian, as FORMAT.md specifies
  out->append(buf, sizeof(T));
}

// A bounds-checked little-endian reader over the encoded bytes.
class Reader {
 public:
  explicit Reader(absl::string_view b) : b_(b) {}
  template <typename T>
  bool Get(T* v) {
    if (b_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetBytes(size_t n, std::string* out) {
    if (b_.size() - pos_ < n) return false;
    out->assign(b_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool AtEnd() const { return pos_ == b_.size(); }

 private:
  absl::string_view b_;
  size_t pos_ = 0;
};

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("index entry is corrupt: ", what));
}

}  // namespace

std::string EncodeEntry(const Entry& e) {
  std::string out;
  out.reserve(48 + e.block_checksums.size() * 8 + e.location.object_key.size() +
              e.symlink_target.size());
  const bool linked = e.type == EntryType::kSymlink && e.link_record != 0;
  Put<uint8_t>(&out, linked ? kLinkedSymlinkVersion : kEntryVersion);
  Put<uint8_t>(&out, static_cast<uint8_t>(e.type));
  Put<uint16_t>(&out, 0);
  Put<uint32_t>(&out, e.mode);
  Put<uint32_t>(&out, e.nlink);
  Put<uint64_t>(&out, e.ino);
  Put<uint64_t>(&out, e.size);
  Put<int64_t>(&out, e.mtime_ns);
  if (e.type == EntryType::kFile) {
    Put<uint64_t>(&out, e.content_hash.hi);
    Put<uint64_t>(&out, e.content_hash.lo);
    Put<uint16_t>(&out, static_cast<uint16_t>(e.location.object_key.size()));
    out.append(e.location.object_key);
    Put<uint64_t>(&out, e.location.offset);
    Put<uint64_t>(&out, e.location.length);
    Put<uint32_t>(&out, e.block_size);
    Put<uint32_t>(&out, static_cast<uint32_t>(e.block_checksums.size()));
    for (uint64_t c : e.block_checksums) Put<uint64_t>(&out, c);
  } else if (e.type == EntryType::kSymlink) {
    Put<uint32_t>(&out, static_cast<uint32_t>(e.symlink_target.size()));
    out.append(e.symlink_target);
    if (linked) {
      Put<uint32_t>(&out, e.link_hops);
      Put<uint64_t>(&out, e.link_record);
    }
  }
  return out;
}

absl::StatusOr<Entry> DecodeEntry(absl::string_view bytes) {
  Reader r(bytes);
  uint8_t version = 0, type = 0;
  uint16_t reserved = 0;
  Entry e;
  if (!r.Get(&version)) return Corrupt("empty");
  if (version != kEntryVersion && version != kLinkedSymlinkVersion) {
    return absl::DataLossError(absl::StrCat(
        "index entry has format version ", version, ", this build reads versions ", kEntryVersion,
        " to ", kLinkedSymlinkVersion, "; upgrade hfshim or re-push the store"));
  }
  if (!r.Get(&type) || !r.Get(&reserved) || !r.Get(&e.mode) || !r.Get(&e.nlink) || !r.Get(&e.ino) ||
      !r.Get(&e.size) || !r.Get(&e.mtime_ns)) {
    return Corrupt("truncated header");
  }
  if (type < 1 || type > 3) return Corrupt(absl::StrCat("unknown entry type ", type));
  e.type = static_cast<EntryType>(type);
  if (version == kLinkedSymlinkVersion && e.type != EntryType::kSymlink) {
    return Corrupt("a link record on an entry that is not a symlink");
  }
  if (e.type == EntryType::kFile) {
    uint16_t key_len = 0;
    uint32_t count = 0;
    if (!r.Get(&e.content_hash.hi) || !r.Get(&e.content_hash.lo) || !r.Get(&key_len) ||
        !r.GetBytes(key_len, &e.location.object_key) || !r.Get(&e.location.offset) ||
        !r.Get(&e.location.length) || !r.Get(&e.block_size) || !r.Get(&count)) {
      return Corrupt("truncated file record");
    }
    if (e.location.length != e.size) return Corrupt("content length differs from size");
    if (e.size > 0) {
      if (e.block_size == 0 || (e.block_size & (e.block_size - 1)) != 0) {
        return Corrupt("block size is not a power of two");
      }
      if (count != (e.size + e.block_size - 1) / e.block_size) {
        return Corrupt("checksum count does not match size and block size");
      }
    } else if (count != 0) {
      return Corrupt("empty file with checksums");
    }
    e.block_checksums.resize(count);
    for (uint32_t i = 0; i < count; ++i) {
      if (!r.Get(&e.block_checksums[i])) return Corrupt("truncated checksums");
    }
  } else if (e.type == EntryType::kSymlink) {
    uint32_t len = 0;
    if (!r.Get(&len) || !r.GetBytes(len, &e.symlink_target)) return Corrupt("truncated target");
    if (version == kLinkedSymlinkVersion && (!r.Get(&e.link_hops) || !r.Get(&e.link_record) ||
                                             e.link_record == 0 || e.link_hops == 0)) {
      return Corrupt("truncated or empty link record");
    }
  }
  if (!r.AtEnd()) return Corrupt("trailing bytes");
  return e;
}

std::string EntryKey(absl::string_view rel_path) {
  size_t slash = rel_path.rfind('/');
  std::string key;
  key.reserve(rel_path.size() + 1);
  if (slash == absl::string_view::npos) {
    key.push_back('\0');
    key.append(rel_path.data(), rel_path.size());
  } else {
    key.append(rel_path.data(), slash);
    key.push_back('\0');
    key.append(rel_path.data() + slash + 1, rel_path.size() - slash - 1);
  }
  return key;
}

std::string PathOfEntryKey(absl::string_view key) {
  const size_t nul = key.find('\0');
  if (nul == 0 || nul == absl::string_view::npos) return std::string(key.substr(nul == 0 ? 1 : 0));
  return absl::StrCat(key.substr(0, nul), "/", key.substr(nul + 1));
}

}  // namespace hfshim
