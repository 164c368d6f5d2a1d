#include "core/cache/window_writers.h"

#include <new>
#include <thread>
#include <utility>

namespace hfshim {

bool WindowWriters::Add(std::shared_ptr<PackWindow> window) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return false;
  queue_.push_back(std::move(window));
  if (running_ < max_threads_ && static_cast<size_t>(running_) < queue_.size()) {
    try {
      std::thread([this] { Work(); }).detach();
      ++running_;
    } catch (...) {  // no thread to be had
    }
  }
  if (running_ > 0) return true;
  queue_.pop_back();
  return false;
}

void WindowWriters::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!queue_.empty() && !stopped_) {
    std::shared_ptr<PackWindow> window = queue_.front();
    lock.unlock();
    const bool wrote = window->WriteNext();
    lock.lock();
    if (!wrote && !queue_.empty() && queue_.front() == window) queue_.pop_front();
  }
  --running_;
  idle_.notify_all();  // under the lock: Stop() may destroy *this once it sees running_ == 0
}

void WindowWriters::Stop() {
  std::deque<std::shared_ptr<PackWindow>> abandoned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    abandoned.swap(queue_);
  }
  for (const auto& w : abandoned) w->Abandon();
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return running_ == 0; });
}

void WindowWriters::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return running_ == 0; });
}

void WindowWriters::ResetAfterFork() {
  new (&mu_) std::mutex();
  new (&idle_) std::condition_variable();
  queue_.clear();
  running_ = 0;
}

}  // namespace hfshim
