// ForkMutex: a mutex that is held across fork() by the atfork handlers and reset in the child.
//
// Not absl::Mutex: a fork child inherits absl::Mutex state it cannot use — internal spin bits set
// by parent threads that were queueing at the instant of fork (unlocking then spins forever), and
// per-thread deadlock-detection records of locks "held" (re-creating the mutex then reports a
// deadlock cycle). A pthread mutex has neither: the child re-creates it with ResetInChild().
//
// PRELOAD-SAFE: constant-initialised, no allocation.
#ifndef HFSHIM_CORE_BASE_FORK_MUTEX_H_
#define HFSHIM_CORE_BASE_FORK_MUTEX_H_

#include <mutex>
#include <new>

#include "absl/base/thread_annotations.h"

namespace hfshim {

class ABSL_LOCKABLE ForkMutex {
 public:
  constexpr ForkMutex() = default;
  ForkMutex(const ForkMutex&) = delete;
  ForkMutex& operator=(const ForkMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return mu_.try_lock(); }
  // Fork child only (single-threaded): a fresh, unlocked mutex, whoever held it at fork.
  void ResetInChild() ABSL_NO_THREAD_SAFETY_ANALYSIS { new (&mu_) std::mutex(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE ForkMutexLock {
 public:
  explicit ForkMutexLock(ForkMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~ForkMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  ForkMutexLock(const ForkMutexLock&) = delete;
  ForkMutexLock& operator=(const ForkMutexLock&) = delete;

 private:
  ForkMutex* const mu_;
};

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_FORK_MUTEX_H_
