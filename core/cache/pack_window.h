// PackWindow: the bytes of one fetched pack window and the write state of each member file in
// it, shared by the thread that fetched it, the background writers (a TaskPool of the cache) and
// threads opening members of it meanwhile.
//
// Each member is written to the node cache at most once by whichever thread claims it first (the
// thread opening that file, or a background writer); a thread that wants a member another thread
// is writing waits for that write only, not for the whole window. A member's bytes are checked
// against its checksum from the index before they are written: unverified bytes are never cached.
// When every member has been written or has failed, `on_done` runs once, on the thread that
// finished the last one.
//
// Thread-safety: thread-safe. Fork: a child must not use its parent's windows (threads writing
// them do not exist there); it drops them.
#ifndef HFSHIM_CORE_CACHE_PACK_WINDOW_H_
#define HFSHIM_CORE_CACHE_PACK_WINDOW_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/base/mapped_buffer.h"
#include "core/index/index_reader.h"

namespace hfshim {

class PackWindow {
 public:
  using Member = IndexReader::PackMember;
  // Writes `data` (checked against `m.checksum`) as the cached content `m.content_hash`.
  using WriteFn = std::function<absl::Status(const Member& m, absl::string_view data)>;

  // `data` holds pack bytes [first, first + data.size()), which must cover every member;
  // `members` are in offset order (as IndexReader::PackMembers returns them).
  PackWindow(MappedBuffer data, uint64_t first, std::vector<Member> members, WriteFn write,
             std::function<void()> on_done);
  PackWindow(const PackWindow&) = delete;
  PackWindow& operator=(const PackWindow&) = delete;

  // The index of the member at pack offset `offset` with content `hash`, or -1.
  int Find(uint64_t offset, const Hash128& hash) const;

  // Member `i` (0 <= i < size()) in the cache: written by this thread unless another thread
  // claimed it, then waited for until `deadline`. OK once it is in place; else the write's error
  // (DataLoss if the bytes do not match the checksum, DeadlineExceeded, Cancelled if abandoned).
  absl::Status Ensure(int i, absl::Time deadline);

  // Whether member `i` was written into the cache (it may have been evicted since). Any thread.
  bool Written(int i) const;

  // Writes the first member nobody has claimed. False if none was left. Any thread.
  bool WriteNext();

  // Members nobody has claimed yet fail (Cancelled) without being written, so on_done runs once
  // the writes under way finish. For shutting down.
  void Abandon();

  // Pack bytes [offset, offset + length), which must lie within the window, unverified.
  absl::string_view Bytes(uint64_t offset, uint64_t length) const {
    return data_.view().substr(offset - first_, length);
  }
  // The memory file holding the bytes (MappedBuffer::CreateShared), or -1; open while the
  // window exists.
  int shared_fd() const { return data_.shared_fd(); }
  // The pack range the window holds, [first(), last()); last() only while pending().
  uint64_t first() const { return first_; }
  uint64_t last() const { return first_ + data_.size(); }
  size_t size() const { return members_.size(); }
  // True until every member has been written or has failed.
  bool pending() const;

 private:
  enum class State { kPending, kWriting, kDone, kFailed };

  // Writes member `i`, claimed by this thread, and records the outcome.
  absl::Status Write(int i);
  // Records the outcome of member `i`; runs on_done if it was the last.
  void Finish(int i, const absl::Status& s);

  MappedBuffer data_;  // given back to the kernel once every member is settled
  const uint64_t first_;
  const std::vector<Member> members_;
  const WriteFn write_;
  std::function<void()> on_done_;  // guarded by mu_ until it is taken to run
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<State> states_;           // guarded by mu_
  std::vector<absl::Status> failures_;  // guarded by mu_; the error of each failed member
  size_t cursor_ = 0;                   // guarded by mu_; no pending member before it
  size_t finished_ = 0;                 // guarded by mu_
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_PACK_WINDOW_H_
