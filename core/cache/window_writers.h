// WindowWriters: background threads that write the members of pack windows into the node cache
// (the dataset neighbours of a file just opened), so the thread that opened it does not wait for
// them. Threads start on demand, up to `max_threads`, share the oldest queued window, and exit
// when no window is left.
//
// Thread-safety: thread-safe. Fork: the child calls ResetAfterFork() (single-threaded): the
// parent's writer threads do not exist there, and the child forgets their windows.
#ifndef HFSHIM_CORE_CACHE_WINDOW_WRITERS_H_
#define HFSHIM_CORE_CACHE_WINDOW_WRITERS_H_

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "core/cache/pack_window.h"

namespace hfshim {

class WindowWriters {
 public:
  explicit WindowWriters(int max_threads) : max_threads_(max_threads < 1 ? 1 : max_threads) {}
  WindowWriters(const WindowWriters&) = delete;
  WindowWriters& operator=(const WindowWriters&) = delete;
  // Stop(): waits for the members being written.
  ~WindowWriters() { Stop(); }

  // Queues `window`: background threads write the members nobody has claimed. False (nothing
  // queued) after Stop() or if no thread can be started; then the caller writes them.
  bool Add(std::shared_ptr<PackWindow> window);

  // Abandons the queued windows (PackWindow::Abandon) and waits until every writer thread has
  // finished the member it is writing. Later Adds fail. Not from a writer thread.
  void Stop();

  // Waits until no window is queued or being written (tests; tools before they exit).
  void Drain();

  void ResetAfterFork();

 private:
  void Work();

  const int max_threads_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::deque<std::shared_ptr<PackWindow>> queue_;  // guarded by mu_
  int running_ = 0;                                // guarded by mu_; writer threads alive
  bool stopped_ = false;                           // guarded by mu_
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_CACHE_WINDOW_WRITERS_H_
