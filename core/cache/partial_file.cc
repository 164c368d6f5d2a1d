#include "core/cache/partial_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/posix_error.h"
#include "core/base/status_macros.h"
#include "core/cache/block_fetcher.h"
#include "core/cache/lock_file.h"
#include "core/env/file_util.h"

namespace hfshim {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the record is little-endian");

constexpr char kMagic[8] = {'H', 'F', 'B', 'L', 'K', 'S', '1', '\n'};

// The fixed part of a presence record (FORMAT.md); followed by the object key, padding to 8,
// the block checksums (u64 each) and the presence bytes.
struct RecordHeader {
  char magic[8];
  uint64_t data_dev;
  uint64_t data_ino;
  uint64_t size;
  uint32_t block_size;
  uint32_t blocks;
  uint64_t location_offset;
  uint64_t location_length;
  uint64_t hash_hi;
  uint64_t hash_lo;
  uint32_t key_length;
  uint32_t reserved;
};
static_assert(sizeof(RecordHeader) == 80);

size_t ChecksumsOffset(size_t key_length) {
  return (sizeof(RecordHeader) + key_length + 7) / 8 * 8;
}

std::string EncodeRecord(const Entry& e, const struct stat& data) {
  RecordHeader h = {};
  memcpy(h.magic, kMagic, sizeof(kMagic));
  h.data_dev = data.st_dev;
  h.data_ino = data.st_ino;
  h.size = e.size;
  h.block_size = e.block_size;
  h.blocks = static_cast<uint32_t>(e.block_checksums.size());
  h.location_offset = e.location.offset;
  h.location_length = e.location.length;
  h.hash_hi = e.content_hash.hi;
  h.hash_lo = e.content_hash.lo;
  h.key_length = static_cast<uint32_t>(e.location.object_key.size());
  std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
  out += e.location.object_key;
  out.resize(ChecksumsOffset(h.key_length), '\0');
  out.append(reinterpret_cast<const char*>(e.block_checksums.data()),
             e.block_checksums.size() * sizeof(uint64_t));
  out.append(e.block_checksums.size(), '\0');  // nothing present yet
  return out;
}

// Parses a mapped record into `e` and the offset of its presence bytes; false if malformed.
bool DecodeRecord(const uint8_t* p, size_t len, Entry* e, RecordHeader* h, size_t* presence) {
  if (len < sizeof(RecordHeader)) return false;
  memcpy(h, p, sizeof(*h));
  if (memcmp(h->magic, kMagic, sizeof(kMagic)) != 0 || h->block_size == 0) return false;
  const uint64_t want_blocks = (h->size + h->block_size - 1) / h->block_size;
  const size_t sums = ChecksumsOffset(h->key_length);
  if (h->blocks != want_blocks || sums + uint64_t{h->blocks} * 9 != len) return false;
  e->type = EntryType::kFile;
  e->size = h->size;
  e->block_size = h->block_size;
  e->content_hash = Hash128{h->hash_hi, h->hash_lo};
  e->location.object_key.assign(reinterpret_cast<const char*>(p) + sizeof(*h), h->key_length);
  e->location.offset = h->location_offset;
  e->location.length = h->location_length;
  e->block_checksums.resize(h->blocks);
  memcpy(e->block_checksums.data(), p + sums, h->blocks * sizeof(uint64_t));
  *presence = sums + h->blocks * sizeof(uint64_t);
  return true;
}

bool SameContent(const Entry& a, const Entry& b) {
  return a.size == b.size && a.block_size == b.block_size && a.content_hash == b.content_hash &&
         a.block_checksums == b.block_checksums;
}

}  // namespace

PartialFile::~PartialFile() {
  if (map_ != nullptr) munmap(const_cast<uint8_t*>(map_), map_len_);
  if (data_fd_ >= 0) env_->Close(data_fd_).IgnoreError();
  if (record_fd_ >= 0) env_->Close(record_fd_).IgnoreError();
}

absl::StatusOr<std::unique_ptr<PartialFile>> PartialFile::OpenPair(Env* env,
                                                                   const std::string& final_path,
                                                                   const Entry* expected) {
  auto f = std::unique_ptr<PartialFile>(new PartialFile());
  f->env_ = env;
  f->final_path_ = final_path;
  f->data_path_ = final_path + std::string(kPartialSuffix);
  f->record_path_ = final_path + std::string(kRecordSuffix);
  ASSIGN_OR_RETURN(f->record_fd_, env->Open(f->record_path_, O_RDWR | O_CLOEXEC, 0));
  struct stat rst;
  RETURN_IF_ERROR(env->Fstat(f->record_fd_, &rst));
  if (rst.st_size < static_cast<off_t>(sizeof(RecordHeader))) {
    return absl::NotFoundError("presence record " + f->record_path_ + " is truncated");
  }
  f->map_len_ = static_cast<size_t>(rst.st_size);
  void* m = mmap(nullptr, f->map_len_, PROT_READ, MAP_SHARED, f->record_fd_, 0);
  if (m == MAP_FAILED) return ErrnoStatus(errno, "map " + f->record_path_);
  f->map_ = static_cast<const uint8_t*>(m);
  RecordHeader h;
  if (!DecodeRecord(f->map_, f->map_len_, &f->entry_, &h, &f->presence_offset_) ||
      (expected != nullptr && !SameContent(*expected, f->entry_))) {
    return absl::NotFoundError("presence record " + f->record_path_ + " is malformed");
  }
  if (expected != nullptr) f->entry_ = *expected;
  f->blocks_ = h.blocks;
  ASSIGN_OR_RETURN(f->data_fd_, env->Open(f->data_path_, O_RDWR | O_CLOEXEC, 0));
  struct stat dst, now;
  RETURN_IF_ERROR(env->Fstat(f->data_fd_, &dst));
  // The record must name this data file and still be linked: else it belongs to a pair that was
  // evicted or recreated between our opens.
  if (dst.st_dev != h.data_dev || dst.st_ino != h.data_ino ||
      static_cast<uint64_t>(dst.st_size) != h.size || !env->Stat(f->record_path_, &now).ok() ||
      now.st_dev != rst.st_dev || now.st_ino != rst.st_ino) {
    return absl::NotFoundError("partial content " + f->data_path_ + " does not match its record");
  }
  return f;
}

absl::Status PartialFile::CreatePair(Env* env, const std::string& final_path, const Entry& entry) {
  const std::string data_path = final_path + std::string(kPartialSuffix);
  const std::string record_path = final_path + std::string(kRecordSuffix);
  env->Unlink(record_path).IgnoreError();  // record first: nobody may pair it any more
  env->Unlink(data_path).IgnoreError();
  ASSIGN_OR_RETURN(int fd, env->Open(data_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  struct stat st;
  absl::Status s = env->Ftruncate(fd, entry.size);
  if (s.ok()) s = env->Fstat(fd, &st);
  env->Close(fd).IgnoreError();
  if (s.ok()) s = WriteFileAtomic(env, record_path, EncodeRecord(entry, st), /*durable=*/false);
  if (!s.ok()) {
    env->Unlink(data_path).IgnoreError();
    return ExplainCacheWriteError(s, data_path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PartialFile>> PartialFile::OpenOrCreate(
    Env* env, const std::string& final_path, const Entry& entry, absl::Time deadline) {
  if (entry.block_size == 0 || entry.block_checksums.empty()) {
    return absl::InvalidArgumentError("content " + entry.content_hash.Hex() + " has no blocks");
  }
  struct stat st;
  auto complete = [&] { return env->Stat(final_path, &st).ok(); };
  if (complete()) return nullptr;
  auto opened = OpenPair(env, final_path, &entry);
  if (opened.ok()) return opened;
  ASSIGN_OR_RETURN(int lock_fd, AcquireLockFile(final_path + ".lock", deadline, complete));
  if (lock_fd < 0) return nullptr;
  // Not complete under the lock either (AcquireLockFile asked once more).
  absl::StatusOr<std::unique_ptr<PartialFile>> result = OpenPair(env, final_path, &entry);
  if (!result.ok() && !complete()) {
    absl::Status s = CreatePair(env, final_path, entry);
    result = s.ok() ? OpenPair(env, final_path, &entry) : s;
  }
  // A pair's fillers may complete and promote it at any moment, also one we created a moment
  // ago (other processes open it as soon as its record exists): then there is nothing to open.
  if (!result.ok() && complete()) result = nullptr;
  close(lock_fd);
  return result;
}

absl::StatusOr<std::unique_ptr<PartialFile>> PartialFile::OpenExisting(
    Env* env, const std::string& data_path) {
  absl::string_view final_path = data_path;
  if (!absl::ConsumeSuffix(&final_path, kPartialSuffix) || final_path.empty()) {
    return absl::InvalidArgumentError(data_path + " is not partial content");
  }
  return OpenPair(env, std::string(final_path), nullptr);
}

bool PartialFile::Present(size_t block) const {
  return block < blocks_ && __atomic_load_n(map_ + presence_offset_ + block, __ATOMIC_ACQUIRE) != 0;
}

bool PartialFile::Complete() const {
  return memchr(map_ + presence_offset_, 0, blocks_) == nullptr;
}

bool PartialFile::TryLockBlock(size_t block) { return SetBlockLock(block, F_WRLCK); }

void PartialFile::UnlockBlock(size_t block) { SetBlockLock(block, F_UNLCK); }

bool PartialFile::SetBlockLock(size_t block, short type) {
  struct flock l = {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = static_cast<off_t>(presence_offset_ + block);
  l.l_len = 1;
  return fcntl(record_fd_, F_SETLK, &l) == 0;
}

absl::Status PartialFile::WriteAt(uint64_t offset, absl::string_view data) {
  std::lock_guard<std::mutex> lock(write_mu_);
  absl::Status s = WriteAll(env_, data_fd_, data, offset);
  return s.ok() ? s : ExplainCacheWriteError(s, data_path_);
}

absl::Status PartialFile::MarkPresent(size_t block) {
  static constexpr char kPresent = 1;
  return WriteAll(env_, record_fd_, absl::string_view(&kPresent, 1), presence_offset_ + block);
}

absl::Status PartialFile::Promote() {
  if (!Complete()) return absl::FailedPreconditionError(data_path_ + " is not complete");
  // Only our own pair: after another process promoted it, the names may be a newer pair's.
  auto ours = [this](int fd, const std::string& path) {
    struct stat a, b;
    return env_->Fstat(fd, &a).ok() && env_->Stat(path, &b).ok() && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
  };
  if (ours(data_fd_, data_path_)) {
    absl::Status s = env_->Rename(data_path_, final_path_);
    if (!s.ok() && StatusToErrno(s) != ENOENT) return s;
  }
  if (ours(record_fd_, record_path_)) env_->Unlink(record_path_).IgnoreError();
  // The creation lock is not needed any more (AcquireLockFile copes with it vanishing).
  env_->Unlink(final_path_ + ".lock").IgnoreError();
  return absl::OkStatus();
}

}  // namespace hfshim
