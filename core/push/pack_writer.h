// PackWriter: builds one pack object (core/push/FORMAT.md) in a local temp file.
// Not thread-safe: the pusher appends small files from one thread, in reading order.
#ifndef HFSHIM_CORE_PUSH_PACK_WRITER_H_
#define HFSHIM_CORE_PUSH_PACK_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/base/hash.h"
#include "core/env/env.h"

namespace hfshim {

inline constexpr char kPackMagic[4] = {'H', 'F', 'P', 'K'};
inline constexpr uint32_t kPackVersion = 1;
inline constexpr uint64_t kPackHeaderSize = 16;

// The 16-byte header of a version-1 pack.
std::string PackHeader();

class PackWriter {
 public:
  // Creates the temp file `path` and writes the header.
  static absl::StatusOr<std::unique_ptr<PackWriter>> Create(Env* env, const std::string& path);
  ~PackWriter();

  // Appends `data`; returns its offset in the pack.
  absl::StatusOr<uint64_t> Append(absl::string_view data);
  uint64_t size() const { return size_; }
  // Flushes and closes the file; returns the pack's content hash (its key's name).
  absl::StatusOr<Hash128> Finish();
  const std::string& path() const { return path_; }

 private:
  PackWriter(Env* env, std::string path, int fd) : env_(env), path_(std::move(path)), fd_(fd) {}
  Env* env_;
  std::string path_;
  int fd_;
  uint64_t size_ = 0;
  ContentHasher hasher_;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_PUSH_PACK_WRITER_H_
