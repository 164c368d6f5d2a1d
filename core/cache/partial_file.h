// PartialFile: a large content file in the node cache that is filled block by block.
//
// On disk, beside the complete file's path P (content/<xx>/<hash>), a pair:
//   P.partial  the data file: the content's full size from creation (sparse), block i holding
//              the content's bytes [i*bs, (i+1)*bs) once it is marked present;
//   P.blocks   the presence record (core/cache/FORMAT.md): the data file's identity, the
//              content's object location and block checksums, then one byte per block, 1 once
//              the block's verified bytes have been written to the data file.
// A block's bytes are always written before its mark, so a process killed at any instant leaves
// at worst an unmarked block that the next reader fetches again: never a torn or half-marked one.
// When every block is present the data file is renamed to P (Promote): open fds keep reading the
// same inode, new opens find the complete file.
//
// Consistency of the pair: it is created under the content's lock file (P.lock) with the data
// file first and the record renamed into place last; eviction unlinks the record first. A reader
// pairs a record with a data file only if the record names the data file's inode and is still
// linked after both were opened, so a record is never matched with a recreated data file.
//
// Thread-safety: Present/Complete/WriteBlock/TryLockBlock/UnlockBlock may be called from any
// thread; the caller serialises fills of one block within the process (fcntl locks are
// per-process, so they only exclude other processes).
#ifndef HFSHIM_CORE_CACHE_PARTIAL_FILE_H_
#define HFSHIM_CORE_CACHE_PARTIAL_FILE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/env/env.h"
#include "core/index/entry.h"

namespace hfshim {

inline constexpr absl::string_view kPartialSuffix = ".partial";
inline constexpr absl::string_view kRecordSuffix = ".blocks";

class PartialFile {
 public:
  // The pair of `entry` (a file with block checksums) whose complete file is `final_path`:
  // opened if present and consistent, else created (replacing any inconsistent leftovers).
  // Returns nullptr if the complete file exists (or appeared meanwhile: also a pair created here
  // may be filled and promoted by other processes before this call returns).
  // `env` must outlive the PartialFile.
  static absl::StatusOr<std::unique_ptr<PartialFile>> OpenOrCreate(Env* env,
                                                                   const std::string& final_path,
                                                                   const Entry& entry,
                                                                   absl::Time deadline);
  // An existing pair from its data file path (P.partial), the entry rebuilt from the record:
  // for a process that inherited an fd on the data file across exec. NotFound if the pair is
  // gone or inconsistent.
  static absl::StatusOr<std::unique_ptr<PartialFile>> OpenExisting(Env* env,
                                                                   const std::string& data_path);

  ~PartialFile();
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  // Size, block size, location and block checksums of the content (type kFile).
  const Entry& entry() const { return entry_; }
  const std::string& data_path() const { return data_path_; }
  size_t block_count() const { return blocks_; }
  bool Present(size_t block) const;
  bool Complete() const;

  // Non-blocking cross-process lock of one block's fill (a byte-range lock on the record).
  bool TryLockBlock(size_t block);
  void UnlockBlock(size_t block);

  // Writes content bytes at content offset `offset` into the data file. Requires: the caller
  // holds the fill locks of the blocks written, which are not present (a present block is never
  // written again). The bytes need not be verified yet: nobody reads an unmarked block.
  // Thread-safe; this process's writes to the file go one at a time (write_mu_).
  absl::Status WriteAt(uint64_t offset, absl::string_view data);
  // Marks `block` present. Requires: all its bytes were written (WriteAt) and verified.
  absl::Status MarkPresent(size_t block);

  // Fork child only (single-threaded): a thread of the parent may have been inside WriteAt.
  void ResetAfterFork() { new (&write_mu_) std::mutex(); }

  // Once Complete(): renames the data file to the complete file's path and removes the record.
  // Idempotent; another process promoting first is success.
  absl::Status Promote();

 private:
  PartialFile() = default;
  static absl::StatusOr<std::unique_ptr<PartialFile>> OpenPair(Env* env,
                                                               const std::string& final_path,
                                                               const Entry* expected);
  static absl::Status CreatePair(Env* env, const std::string& final_path, const Entry& entry);
  // F_SETLK of `type` (F_WRLCK/F_UNLCK) on the block's presence byte; true on success.
  bool SetBlockLock(size_t block, short type);

  Env* env_ = nullptr;
  Entry entry_;
  std::string final_path_, data_path_, record_path_;
  int data_fd_ = -1, record_fd_ = -1;
  const uint8_t* map_ = nullptr;  // the whole record, read-only, shared
  size_t map_len_ = 0;
  size_t presence_offset_ = 0;  // of block 0's byte in the record
  size_t blocks_ = 0;
  // Parallel writes to one file queue on its inode lock anyway, and the kernel spins waiters on
  // the CPU while the holder copies: 8 fills of one file burnt twice the CPU of the copies (and
  // took it from the store's server). Queued here, they sleep.
  std::mutex write_mu_;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_PARTIAL_FILE_H_
