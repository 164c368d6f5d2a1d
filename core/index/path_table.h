// The path table of an index generation (core/index/FORMAT.md, "pathtable" database): an
// open-addressing hash table from IndexPathHash(rel_path) to a record holding the full path and
// its encoded entry, so a lookup reads about two cache lines (a slot, a record) instead of walking
// a B-tree of long keys. The table and the records are large LMDB values, which LMDB stores in
// contiguous pages of the map; the reader keeps pointers to them. Internal to core/index.
#ifndef HFSHIM_CORE_INDEX_PATH_TABLE_H_
#define HFSHIM_CORE_INDEX_PATH_TABLE_H_

#include <lmdb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hfshim {

inline constexpr char kPathTableDb[] = "pathtable";

// The hash a path is filed under: PathHash(rel_path). Tests may replace it to force collisions.
uint64_t IndexPathHash(absl::string_view rel_path);
using IndexPathHashFn = uint64_t (*)(absl::string_view);
// Test-only: makes IndexPathHash call `fn` (nullptr restores PathHash). A generation written with
// a replaced hash is only readable with the same hash. Not thread-safe: call it while no index is
// being written or read.
void SetIndexPathHashForTesting(IndexPathHashFn fn);

// Where records go: the locator each record gets when records of the given sizes are added in
// order. PathTableBuilder places its records with it; the index writer plans with a second one
// which locators the records it has not written yet will get. Not thread-safe.
class RecordPlacer {
 public:
  // The size of the record of `rel_path` with an encoded entry of `entry_size` bytes.
  static size_t RecordSize(absl::string_view rel_path, size_t entry_size) {
    return 2 + rel_path.size() + 4 + entry_size;
  }
  // The locator of the next record, of `size` bytes; InvalidArgument/ResourceExhausted past the
  // table's limits (a record over 64 MiB, 1 TiB of records).
  absl::StatusOr<uint64_t> Place(size_t size);

 private:
  uint64_t chunk_ = 0;
  uint64_t offset_ = 0;
};

// Builds the table: records are flushed to the database in chunks (<= 64 MiB) as they are added;
// (hash, locator) pairs are kept in memory, 16 bytes per record, until Finish builds the slots
// (at most 32 bytes per record). Not thread-safe.
class PathTableBuilder {
 public:
  // `txn`/`dbi`: the write transaction and the (created) pathtable database.
  PathTableBuilder(MDB_txn* txn, MDB_dbi dbi, std::string file_for_errors);

  // Adds `rel_path` (not yet added) with its encoded entry; returns the record's locator (what
  // the entries database stores for the path, FORMAT.md).
  absl::StatusOr<uint64_t> Add(absl::string_view rel_path, absl::string_view encoded_entry);

  // Writes the last records chunk, the slots and the head. Call once, after every Add.
  absl::Status Finish();

 private:
  absl::Status FlushChunk();

  MDB_txn* txn_;
  MDB_dbi dbi_;
  std::string file_;
  std::vector<std::pair<uint64_t, uint64_t>> hashes_;  // (hash, locator) per record
  std::string chunk_;                                  // records of the current chunk
  uint32_t chunks_written_ = 0;
  RecordPlacer placer_;
};

// A read-only view of a generation's path table; valid while its LMDB environment is open (the
// file is immutable, so pointers into the map stay valid after the loading transaction ends).
// Thread-safe (const, no state).
class PathTable {
 public:
  // DataLoss naming `file` if the pathtable database is missing or malformed.
  static absl::StatusOr<PathTable> Load(MDB_txn* txn, absl::string_view file);

  // The encoded entry of exactly `rel_path` (a view into the map), nullopt if absent; DataLoss
  // if a slot or record it reaches is malformed. Paths sharing a hash are told apart by their
  // full path stored in each record.
  absl::StatusOr<std::optional<absl::string_view>> Find(absl::string_view rel_path) const;

  // The encoded entry of the record at `locator` (an entries-database value); DataLoss if the
  // locator or the record is malformed.
  absl::StatusOr<absl::string_view> EntryAt(uint64_t locator) const;

  // Splits the record at `locator` into its path and encoded entry (views into the map);
  // DataLoss if the locator or the record is malformed.
  absl::Status Record(uint64_t locator, absl::string_view* path, absl::string_view* entry) const;

 private:
  const uint64_t* slots_ = nullptr;  // may be unaligned: read with memcpy
  uint64_t slot_mask_ = 0;
  std::vector<absl::string_view> chunks_;
  std::string file_;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_INDEX_PATH_TABLE_H_
