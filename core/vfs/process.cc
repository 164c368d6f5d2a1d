// The process-wide Vfs of the preloaded shim: built lazily from the environment on the first
// prefix hit (config, store, cache, index generations), never destroyed, reset after fork.
#include <cstdlib>
#include <new>

#include "absl/strings/str_cat.h"
#include "core/base/fork_mutex.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/env/file_util.h"
#include "core/stats/profile.h"
#include "core/stats/stats.h"
#include "core/vfs/path_router.h"
#include "core/vfs/store_generations.h"
#include "core/vfs/vfs.h"

namespace hfshim {
namespace {

// PRELOAD-SAFE: constant-initialised; the instance is built once and never destroyed (atexit
// handlers and other threads may still call into it).
std::atomic<Vfs*> g_instance{nullptr};
std::atomic<bool> g_failed{false};
constinit ForkMutex g_instance_mu;

struct ProcessParts {
  Config config;
  std::unique_ptr<ObjectStore> store;
  std::unique_ptr<ContentCache> cache;
  std::unique_ptr<GenerationSource> source;
};

absl::StatusOr<Vfs*> Build() {
  ASSIGN_OR_RETURN(Config config, LoadConfig());
  if (config.disable) return static_cast<Vfs*>(nullptr);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex operation runs the debug
  // lock-order graph (GraphCycles, a global lock and per-thread bookkeeping): a large share of a
  // cached stat. The shim's lock order is fixed by design and exercised with detection on by the
  // unit tests (which never come here), so the preloaded process turns it off. Process-wide:
  // other Abseil users in the process lose only this debug check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  SetLogLevel(config.log_level);
  const Prefix& prefix = RouterPrefix();
  if (config.prefix != prefix.literal()) {
    Log(LogLevel::kWarn, absl::StrCat("HFSHIM_PREFIX changed after start (", config.prefix,
                                      "); serving ", prefix.literal()));
  }
  if (config.stats) StartStats();
  if (!config.profile_path.empty()) StartProfile(config.profile_path);
  auto* parts = new ProcessParts;  // never destroyed, like the Vfs that points into it
  parts->config = std::move(config);
  const Config& c = parts->config;
  ASSIGN_OR_RETURN(parts->store, OpenStore(c.store_url, c));
  ASSIGN_OR_RETURN(parts->cache, ContentCache::Create(c, parts->store.get(), Env::Default()));
  parts->source = MakeStoreGenerationSource(parts->store.get(), c, NodeIndexDir(c));
  // The prefix exists on disk so the real part of the union (.locks, new downloads) works.
  absl::Status made = MakeDirs(Env::Default(), std::string(prefix.literal()));
  if (!made.ok()) {
    Log(LogLevel::kWarn, absl::StrCat("cannot create the hub cache directory ", prefix.literal(),
                                      ": ", made.message()));
  }
  Vfs::Parts p;
  p.prefix = &prefix;
  p.placeholder_root = std::string(PlaceholderRoot());
  p.env = Env::Default();
  p.source = parts->source.get();
  p.cache = parts->cache.get();
  p.refresh_seconds = c.refresh_seconds;
  p.timeout_seconds = c.timeout_seconds;
  p.statfs_path = c.cache_dirs[0];
  ASSIGN_OR_RETURN(std::unique_ptr<Vfs> vfs, Vfs::Create(p));
  return vfs.release();
}

// The ContentCache of the process instance, for fork handling.
ContentCache* g_cache = nullptr;

}  // namespace

Vfs* Vfs::Instance() {
  Vfs* v = g_instance.load(std::memory_order_acquire);
  if (v != nullptr || g_failed.load(std::memory_order_relaxed)) return v;
  ForkMutexLock lock(&g_instance_mu);
  v = g_instance.load(std::memory_order_relaxed);
  if (v != nullptr || g_failed.load(std::memory_order_relaxed)) return v;
  absl::StatusOr<Vfs*> built = Build();
  if (!built.ok() || *built == nullptr) {
    if (!built.ok()) {
      Log(LogLevel::kError, absl::StrCat("cannot start; every call passes through to the local "
                                         "disk: ",
                                         built.status().message()));
    }
    g_failed.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  g_cache = (*built)->cache_;
  g_instance.store(*built, std::memory_order_release);
  return *built;
}

void Vfs::PrepareForkAll() {
  g_instance_mu.Lock();
  if (Vfs* v = g_instance.load(std::memory_order_acquire)) {
    v->PrepareFork();
    if (g_cache != nullptr) g_cache->LockForFork();
  }
}

void Vfs::ParentAfterForkAll() {
  if (Vfs* v = g_instance.load(std::memory_order_acquire)) {
    if (g_cache != nullptr) g_cache->UnlockAfterFork();
    v->ParentAfterFork();
  }
  g_instance_mu.Unlock();
}

void Vfs::ChildAfterForkAll() {
  if (Vfs* v = g_instance.load(std::memory_order_acquire)) {
    v->ChildAfterFork();
    if (g_cache != nullptr) g_cache->ResetAfterFork();
    RestartStatsAfterFork();
    ResetProfileAfterFork();
  }
  g_instance_mu.ResetInChild();
}

}  // namespace hfshim
