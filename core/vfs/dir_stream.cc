#include "core/vfs/dir_stream.h"

#include <dirent.h>

#include <utility>

#include "core/base/posix_error.h"
#include "core/base/status_macros.h"

namespace hfshim {

unsigned char DirentType(EntryType type) {
  switch (type) {
    case EntryType::kDirectory:
      return DT_DIR;
    case EntryType::kFile:
      return DT_REG;
    case EntryType::kSymlink:
      return DT_LNK;
  }
  return DT_UNKNOWN;
}

DirStream DirStream::Virtual(ReaderFn reader, std::string dir, uint64_t self_ino,
                             uint64_t parent_ino) {
  DirStream s;
  s.reader_ = std::move(reader);
  s.dir_ = std::move(dir);
  s.self_ino_ = self_ino;
  s.parent_ino_ = parent_ino;
  return s;
}

DirStream DirStream::Union(ReaderFn reader, std::vector<DirItem> real) {
  DirStream s;
  s.reader_ = std::move(reader);
  s.union_ = true;
  s.real_ = std::move(real);
  s.phase_ = 2;  // "." and ".." come from the real directory
  return s;
}

absl::StatusOr<bool> DirStream::NextIndexChild(DirItem* out) {
  while (true) {
    if (page_pos_ < page_.size()) {
      const DirChild& c = page_[page_pos_++];
      last_name_ = c.name;
      out->ino = c.entry.ino;
      out->type = DirentType(c.entry.type);
      out->name = c.name;
      return true;
    }
    if (index_done_) return false;
    const IndexReader* reader = reader_();
    if (reader == nullptr) {
      index_done_ = true;
      return false;
    }
    page_pos_ = 0;
    absl::StatusOr<std::vector<DirChild>> page = reader->List(dir_, last_name_, kPageSize);
    if (!page.ok()) {
      // The directory vanished in a newer generation: the listing simply ends.
      if (absl::IsNotFound(page.status()) || StatusToErrno(page.status()) == ENOTDIR) {
        page_.clear();
        index_done_ = true;
        return false;
      }
      return page.status();
    }
    page_ = std::move(*page);
    if (page_.size() < kPageSize) index_done_ = true;
    if (page_.empty()) return false;
  }
}

absl::StatusOr<bool> DirStream::Next(DirItem* out) {
  while (true) {
    switch (phase_) {
      case 0:
        phase_ = 1;
        out->ino = self_ino_;
        out->type = DT_DIR;
        out->name = ".";
        ++ordinal_;
        return true;
      case 1:
        phase_ = 2;
        out->ino = parent_ino_;
        out->type = DT_DIR;
        out->name = "..";
        ++ordinal_;
        return true;
      case 2: {
        ASSIGN_OR_RETURN(bool got, NextIndexChild(out));
        if (got) {
          ++ordinal_;
          return true;
        }
        phase_ = union_ ? 3 : 4;
        break;
      }
      case 3: {
        if (real_pos_ >= real_.size()) {
          phase_ = 4;
          break;
        }
        const DirItem& item = real_[real_pos_++];
        if (item.name != "." && item.name != "..") {
          const IndexReader* reader = reader_();
          if (reader != nullptr && reader->Lookup(item.name).ok()) break;  // shadowed
        }
        *out = item;
        ++ordinal_;
        return true;
      }
      default:
        return false;
    }
  }
}

absl::Status DirStream::Seek(int64_t ordinal) {
  phase_ = union_ ? 2 : 0;
  page_.clear();
  page_pos_ = 0;
  index_done_ = false;
  last_name_.clear();
  real_pos_ = 0;
  ordinal_ = 0;
  DirItem skip;
  while (ordinal_ < ordinal) {
    ASSIGN_OR_RETURN(bool got, Next(&skip));
    if (!got) break;
  }
  return absl::OkStatus();
}

}  // namespace hfshim
