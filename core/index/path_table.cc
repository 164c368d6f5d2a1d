#include "core/index/path_table.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/hash.h"
#include "core/base/status_macros.h"
#include "core/index/lmdb_util.h"

namespace hfshim {
namespace {

// Layout constants of FORMAT.md ("pathtable"). A slot is 0 (empty) or
// fingerprint (top 24 bits of the hash) << 40 | (locator + 1); a locator is
// chunk << 26 | byte offset of the record in that chunk.
constexpr char kHeadKey[] = "head";
constexpr char kSlotsKey[] = "slots";
constexpr uint32_t kTableVersion = 1;
constexpr size_t kHeadSize = 24;  // u32 version, u32 chunk count, u64 slot count, u64 records
constexpr int kLocatorBits = 40;
constexpr uint64_t kLocatorMask = (uint64_t{1} << kLocatorBits) - 1;
constexpr int kChunkBits = 26;  // records chunks of at most 64 MiB
constexpr size_t kMaxChunkBytes = size_t{1} << kChunkBits;
constexpr uint64_t kMaxChunks = uint64_t{1} << (kLocatorBits - kChunkBits);

IndexPathHashFn g_path_hash_for_testing = nullptr;

std::string ChunkKey(uint32_t n) { return absl::StrCat("records/", n); }

uint64_t Fingerprint(uint64_t hash) { return hash >> kLocatorBits; }

template <typename T>
void Append(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));  // little-endian (x86_64)
}

absl::Status Damaged(absl::string_view file, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("index ", file, ": path table ", what,
                                          "; the index generation is damaged: delete it so it is "
                                          "fetched again"));
}

}  // namespace

uint64_t IndexPathHash(absl::string_view rel_path) {
  return g_path_hash_for_testing == nullptr ? PathHash(rel_path)
                                            : g_path_hash_for_testing(rel_path);
}

void SetIndexPathHashForTesting(IndexPathHashFn fn) { g_path_hash_for_testing = fn; }

absl::StatusOr<uint64_t> RecordPlacer::Place(size_t size) {
  if (size > kMaxChunkBytes) return absl::InvalidArgumentError("index record is too large");
  if (offset_ + size > kMaxChunkBytes) {  // a record never spans chunks
    ++chunk_;
    offset_ = 0;
  }
  if (chunk_ >= kMaxChunks) {
    return absl::ResourceExhaustedError("index path table exceeds 1 TiB of records");
  }
  const uint64_t locator = (chunk_ << kChunkBits) | offset_;
  offset_ += size;
  return locator;
}

PathTableBuilder::PathTableBuilder(MDB_txn* txn, MDB_dbi dbi, std::string file_for_errors)
    : txn_(txn), dbi_(dbi), file_(std::move(file_for_errors)) {}

absl::StatusOr<uint64_t> PathTableBuilder::Add(absl::string_view rel_path,
                                               absl::string_view encoded_entry) {
  // Record: u16 path length, path, u32 entry length, entry.
  const size_t size = RecordPlacer::RecordSize(rel_path, encoded_entry.size());
  if (rel_path.size() > UINT16_MAX || size > kMaxChunkBytes) {
    return absl::InvalidArgumentError(absl::StrCat("index entry '", rel_path, "' is too large"));
  }
  ASSIGN_OR_RETURN(const uint64_t locator, placer_.Place(size));
  if ((locator >> kChunkBits) != chunks_written_) RETURN_IF_ERROR(FlushChunk());
  hashes_.emplace_back(IndexPathHash(rel_path), locator);
  Append<uint16_t>(&chunk_, static_cast<uint16_t>(rel_path.size()));
  chunk_.append(rel_path.data(), rel_path.size());
  Append<uint32_t>(&chunk_, static_cast<uint32_t>(encoded_entry.size()));
  chunk_.append(encoded_entry.data(), encoded_entry.size());
  return locator;
}

absl::Status PathTableBuilder::FlushChunk() {
  const std::string key = ChunkKey(chunks_written_);
  MDB_val k = Val(key), v = Val(chunk_);
  int rc = mdb_put(txn_, dbi_, &k, &v, 0);
  if (rc != 0) return LmdbError(rc, "write index path table records", file_);
  ++chunks_written_;
  chunk_.clear();
  return absl::OkStatus();
}

absl::Status PathTableBuilder::Finish() {
  if (!chunk_.empty() || chunks_written_ == 0) RETURN_IF_ERROR(FlushChunk());
  // Load factor in (1/4, 1/2]: linear probing then reads ~1.5 slots per hit, and an empty slot
  // always ends a probe sequence.
  uint64_t slot_count = 8;
  while (slot_count < 2 * hashes_.size()) slot_count *= 2;
  std::vector<uint64_t> slots(slot_count, 0);
  const uint64_t mask = slot_count - 1;
  for (const auto& [hash, locator] : hashes_) {
    uint64_t i = hash & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = (Fingerprint(hash) << kLocatorBits) | (locator + 1);
  }
  std::string head;
  Append<uint32_t>(&head, kTableVersion);
  Append<uint32_t>(&head, chunks_written_);
  Append<uint64_t>(&head, slot_count);
  Append<uint64_t>(&head, hashes_.size());
  MDB_val sk = Val(kSlotsKey), sv{slots.size() * sizeof(uint64_t), slots.data()};
  int rc = mdb_put(txn_, dbi_, &sk, &sv, 0);
  MDB_val hk = Val(kHeadKey), hv = Val(head);
  if (rc == 0) rc = mdb_put(txn_, dbi_, &hk, &hv, 0);
  if (rc != 0) return LmdbError(rc, "write index path table", file_);
  return absl::OkStatus();
}

absl::StatusOr<PathTable> PathTable::Load(MDB_txn* txn, absl::string_view file) {
  MDB_dbi dbi;
  int rc = mdb_dbi_open(txn, kPathTableDb, 0, &dbi);
  if (rc == MDB_NOTFOUND) return Damaged(file, "is missing");
  if (rc != 0) return LmdbError(rc, "open index path table", file);
  PathTable t;
  t.file_ = std::string(file);
  MDB_val k = Val(kHeadKey), v;
  rc = mdb_get(txn, dbi, &k, &v);
  if (rc != 0) return Damaged(file, "has no head");
  if (v.mv_size != kHeadSize) return Damaged(file, "head has the wrong size");
  uint32_t version = 0, chunks = 0;
  uint64_t slot_count = 0, records = 0;
  std::memcpy(&version, static_cast<const char*>(v.mv_data), 4);
  std::memcpy(&chunks, static_cast<const char*>(v.mv_data) + 4, 4);
  std::memcpy(&slot_count, static_cast<const char*>(v.mv_data) + 8, 8);
  std::memcpy(&records, static_cast<const char*>(v.mv_data) + 16, 8);
  if (version != kTableVersion) {
    return absl::DataLossError(absl::StrCat("index ", file, " has path table version ", version,
                                            ", this build reads ", kTableVersion,
                                            "; upgrade hfshim"));
  }
  if (slot_count == 0 || (slot_count & (slot_count - 1)) != 0 || records >= slot_count ||
      chunks > kMaxChunks) {
    return Damaged(file, "head is inconsistent");
  }
  k = Val(kSlotsKey);
  rc = mdb_get(txn, dbi, &k, &v);
  if (rc != 0 || v.mv_size != slot_count * sizeof(uint64_t)) {
    return Damaged(file, "slots are missing or of the wrong size");
  }
  t.slots_ = static_cast<const uint64_t*>(v.mv_data);
  t.slot_mask_ = slot_count - 1;
  for (uint32_t n = 0; n < chunks; ++n) {
    const std::string key = ChunkKey(n);
    k = Val(key);
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc != 0) return Damaged(file, absl::StrCat("lacks records chunk ", n));
    t.chunks_.push_back(View(v));
  }
  return t;
}

absl::StatusOr<std::optional<absl::string_view>> PathTable::Find(absl::string_view rel_path) const {
  const uint64_t hash = IndexPathHash(rel_path);
  const uint64_t fingerprint = Fingerprint(hash);
  uint64_t i = hash & slot_mask_;
  for (uint64_t probes = 0; probes <= slot_mask_; ++probes, i = (i + 1) & slot_mask_) {
    uint64_t slot;
    std::memcpy(&slot, slots_ + i, sizeof(slot));
    if (slot == 0) break;
    if ((slot >> kLocatorBits) != fingerprint) continue;
    absl::string_view path, entry;
    RETURN_IF_ERROR(Record((slot & kLocatorMask) - 1, &path, &entry));
    if (path == rel_path) return std::optional<absl::string_view>(entry);
  }
  return std::optional<absl::string_view>();
}

absl::StatusOr<absl::string_view> PathTable::EntryAt(uint64_t locator) const {
  absl::string_view path, entry;
  RETURN_IF_ERROR(Record(locator, &path, &entry));
  return entry;
}

absl::Status PathTable::Record(uint64_t locator, absl::string_view* path,
                               absl::string_view* entry) const {
  const uint64_t chunk = locator >> kChunkBits;
  const uint64_t offset = locator & (kMaxChunkBytes - 1);
  if (chunk >= chunks_.size() || offset > chunks_[chunk].size()) {
    return Damaged(file_, "locator points past the records");
  }
  const absl::string_view rec = chunks_[chunk].substr(offset);
  uint16_t path_len;
  uint32_t entry_len;
  if (rec.size() < 2) return Damaged(file_, "record is truncated");
  std::memcpy(&path_len, rec.data(), 2);
  if (rec.size() < 2 + size_t{path_len} + 4) return Damaged(file_, "record is truncated");
  std::memcpy(&entry_len, rec.data() + 2 + path_len, 4);
  if (rec.size() - 2 - path_len - 4 < entry_len) return Damaged(file_, "record is truncated");
  *path = rec.substr(2, path_len);
  *entry = rec.substr(2 + path_len + 4, entry_len);
  return absl::OkStatus();
}

}  // namespace hfshim
