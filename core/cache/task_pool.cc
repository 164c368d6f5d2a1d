#include "core/cache/task_pool.h"

#include <new>
#include <thread>
#include <utility>

namespace hfshim {

bool TaskPool::Add(Task task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return false;
  queue_.push_back(std::move(task));
  if (running_ < max_threads_ && static_cast<size_t>(running_) < queue_.size()) {
    try {
      std::thread([this] { Work(); }).detach();
      ++running_;
    } catch (...) {  // no thread to be had: the running ones (if any) take the task
    }
  }
  if (running_ > 0) return true;
  queue_.pop_back();
  return false;
}

void TaskPool::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!queue_.empty() && !stopped_) {
    Task task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task.run();
    lock.lock();
  }
  --running_;
  idle_.notify_all();  // under the lock: Stop() may destroy *this once it sees running_ == 0
}

void TaskPool::Stop() {
  std::deque<Task> cancelled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    cancelled.swap(queue_);
  }
  for (Task& t : cancelled) {
    if (t.cancel) t.cancel();
  }
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return running_ == 0; });
}

void TaskPool::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return running_ == 0 && queue_.empty(); });
}

void TaskPool::ResetAfterFork() {
  new (&mu_) std::mutex();
  new (&idle_) std::condition_variable();
  // Abandoned, not cleared: a parent thread may have been halfway through changing it (the
  // tasks it holds leak in the child).
  new (&queue_) std::deque<Task>();
  running_ = 0;
}

}  // namespace hfshim
