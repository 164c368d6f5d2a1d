// TaskPool: runs queued tasks on background threads that start on demand, up to `max_threads`,
// and exit when the queue is empty (a process that stops reading keeps no idle threads). The node
// cache uses one to write pack window members and one to prefetch pack windows.
//
// Thread-safety: thread-safe. Fork: the child calls ResetAfterFork() (single-threaded): the
// parent's pool threads do not exist there, and the child forgets the queue without running or
// cancelling anything.
#ifndef HFSHIM_CORE_CACHE_TASK_POOL_H_
#define HFSHIM_CORE_CACHE_TASK_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

namespace hfshim {

class TaskPool {
 public:
  struct Task {
    std::function<void()> run;
    std::function<void()> cancel;  // optional: run instead of `run` by Stop() for a queued task
  };

  explicit TaskPool(int max_threads) : max_threads_(max_threads < 1 ? 1 : max_threads) {}
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;
  ~TaskPool() { Stop(); }

  // Queues `task`. False (nothing queued) after Stop() or if no thread can be started; the caller
  // then does the work itself.
  bool Add(Task task);

  // Cancels the queued tasks and waits for the running ones. Later Adds fail. Not from a task.
  void Stop();

  // Waits until no task is queued or running (tests; tools before they exit). Not from a task.
  void Drain();

  void ResetAfterFork();

 private:
  void Work();

  const int max_threads_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::deque<Task> queue_;  // guarded by mu_
  int running_ = 0;         // guarded by mu_; pool threads alive
  bool stopped_ = false;    // guarded by mu_
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_TASK_POOL_H_
