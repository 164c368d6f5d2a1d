#include "core/cache/pack_window.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/hash.h"

namespace hfshim {

PackWindow::PackWindow(MappedBuffer data, uint64_t first, std::vector<Member> members,
                       WriteFn write, std::function<void()> on_done)
    : data_(std::move(data)),
      first_(first),
      members_(std::move(members)),
      write_(std::move(write)),
      on_done_(std::move(on_done)),
      states_(members_.size(), State::kPending),
      failures_(members_.size()) {}

int PackWindow::Find(uint64_t offset, const Hash128& hash) const {
  auto it = std::lower_bound(members_.begin(), members_.end(), offset,
                             [](const Member& m, uint64_t off) { return m.offset < off; });
  for (; it != members_.end() && it->offset == offset; ++it) {
    if (it->content_hash == hash) return static_cast<int>(it - members_.begin());
  }
  return -1;
}

absl::Status PackWindow::Ensure(int i, absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  if (states_[i] == State::kPending) {
    states_[i] = State::kWriting;
    lock.unlock();
    return Write(i);
  }
  const auto until =
      std::chrono::system_clock::now() +
      absl::ToChronoNanoseconds(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  if (!cv_.wait_until(lock, until, [&] { return states_[i] != State::kWriting; })) {
    return absl::DeadlineExceededError("timed out waiting for another thread's cache write");
  }
  return states_[i] == State::kDone ? absl::OkStatus() : failures_[i];
}

bool PackWindow::Written(int i) const {
  std::lock_guard<std::mutex> lock(mu_);
  return states_[i] == State::kDone;
}

bool PackWindow::WriteNext() {
  std::unique_lock<std::mutex> lock(mu_);
  while (cursor_ < states_.size() && states_[cursor_] != State::kPending) ++cursor_;
  if (cursor_ == states_.size()) return false;
  const int i = static_cast<int>(cursor_++);
  states_[i] = State::kWriting;
  lock.unlock();
  Write(i).IgnoreError();  // the thread that wants this member sees the error
  return true;
}

void PackWindow::Abandon() {
  std::unique_lock<std::mutex> lock(mu_);
  for (size_t i = cursor_; i < states_.size(); ++i) {
    if (states_[i] != State::kPending) continue;
    states_[i] = State::kWriting;
    lock.unlock();
    Finish(static_cast<int>(i), absl::CancelledError("pack window abandoned"));
    lock.lock();
  }
}

bool PackWindow::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return finished_ < states_.size();
}

absl::Status PackWindow::Write(int i) {
  const Member& m = members_[i];
  const absl::string_view data = Bytes(m.offset, m.length);
  absl::Status s =
      BlockChecksum(data) == m.checksum
          ? write_(m, data)
          : absl::DataLossError(absl::StrCat("content ", m.content_hash.Hex(), " at offset ",
                                             m.offset, " of its pack does not match its checksum"));
  Finish(i, s);
  return s;
}

void PackWindow::Finish(int i, const absl::Status& s) {
  std::function<void()> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    states_[i] = s.ok() ? State::kDone : State::kFailed;
    failures_[i] = s;
    if (++finished_ == states_.size()) {
      done = std::move(on_done_);
      data_ = MappedBuffer();  // every member is settled: nobody reads the bytes any more
    }
  }
  cv_.notify_all();
  if (done) done();
}

}  // namespace hfshim
