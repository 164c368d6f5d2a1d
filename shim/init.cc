// libhfshim.so bootstrap: the real_* pointers, the constructor and the fork handlers.
//
// The constructor resolves every real_* (dlvsym where glibc has several versions) and installs
// them into core (SetLibcTable), computes the prefix (allocation-free) and registers the atfork
// handlers — nothing heavier: core (config, store, index, cache) starts on the first prefix hit.
// Before the constructor, REAL() resolves a pointer lazily with dlsym (glibc 2.36's dlsym does
// not allocate on success), and Ready() is false, so every wrapper passes straight through.
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstdarg>
#include <cstdlib>
#include <cstring>

#include "core/base/hot_path.h"
#include "core/env/env.h"
#include "core/vfs/fd_table.h"
#include "core/vfs/path_router.h"
#include "core/vfs/raw_syscall.h"
#include "core/vfs/vfs.h"
#include "shim/shim.h"

extern "C" void __chk_fail(void) __attribute__((noreturn));

// The number of vfork() calls in flight in this address space (see OwnerProcess). Read and
// written with atomic builtins; plain int so the assembly below can address it.
extern "C" {
__attribute__((visibility("hidden"))) int hfshim_vfork_inflight = 0;
}

namespace hfshim::shim {

__thread int t_depth __attribute__((tls_model("initial-exec"))) = 0;

namespace {

// PRELOAD-SAFE: constant-initialised.
std::atomic<bool> g_ready{false};
std::atomic<pid_t> g_owner_pid{0};
// Set for good once this process may hold a child the shim cannot tell from itself without
// asking the kernel (see OwnerProcess): from then on every check compares getpid().
std::atomic<bool> g_check_pid{false};

void* Lookup(const char* name, const char* version) {
  void* p = nullptr;
  if (version[0] != '\0') p = dlvsym(RTLD_NEXT, name, version);
  if (p == nullptr) p = dlsym(RTLD_NEXT, name);
  return p;
}

void OnPrepareFork() {
  ++t_depth;
  if (g_ready.load(std::memory_order_relaxed)) Vfs::PrepareForkAll();
}
void OnParentAfterFork() {
  if (g_ready.load(std::memory_order_relaxed)) Vfs::ParentAfterForkAll();
  --t_depth;
}
void OnChildAfterFork() {
  g_owner_pid.store(static_cast<pid_t>(RawSyscall(SYS_getpid)), std::memory_order_relaxed);
  if (g_ready.load(std::memory_order_relaxed)) Vfs::ChildAfterForkAll();
  --t_depth;
}

template <typename F>
F Cast(void* p) {
  return reinterpret_cast<F>(p);
}

}  // namespace

#define SHIM_REAL(name, version, ret, params)                       \
  name##_fn real_##name = nullptr;                                  \
  name##_fn Resolve_##name() {                                      \
    name##_fn p = Cast<name##_fn>(Lookup(#name, version));          \
    if (p == nullptr) {                                             \
      static const char kMsg[] = "hfshim: libc has no " #name "\n"; \
      (void)!::write(2, kMsg, sizeof(kMsg) - 1);                    \
      std::abort();                                                 \
    }                                                               \
    real_##name = p;                                                \
    return p;                                                       \
  }
#define SHIM_ALIAS(name, target)
#define SHIM_EXPORT(name)
#include "shim/symbols.def"
#undef SHIM_REAL
#undef SHIM_ALIAS
#undef SHIM_EXPORT

HFSHIM_HOT_PATH bool Ready() { return g_ready.load(std::memory_order_relaxed); }

bool g_next_is_glibc = false;
long g_errno_offset = 0;

// Whether this code runs in the process that owns the shim's state, answered without a system
// call in the common case. The owner is the process that ran the constructor, or a fork child
// once OnChildAfterFork ran (it refreshes g_owner_pid and resets core). The processes that share
// or copy our memory WITHOUT running the atfork handlers, and how each is caught:
//  * vfork children (CPython's _posixsubprocess, via libc's vfork): they run on the parent's
//    memory, stack and TLS, so no variable can hold "my pid" for them. Our vfork (below) counts
//    the calls in flight in hfshim_vfork_inflight, incremented before the vfork syscall and
//    decremented by the parent when the kernel resumes it (the child has exec'd or exited).
//    While the count is non-zero (in the child, which sees the parent's increment, and in the
//    parent's other threads meanwhile) OwnerProcess compares getpid() as before.
//  * _Fork children (no handlers): our _Fork sets g_check_pid in the child's copy of memory.
//  * glibc clone() without CLONE_THREAD, and fork/vfork/clone/clone3 made through syscall():
//    g_check_pid is set in the caller before the call, so both sides compare getpid() from then
//    on (correct, only slower).
//  * posix_spawn/system/popen children run only glibc internals (no wrapper) before exec.
// Not caught: clone/fork made by inline assembly (Go, rustix) whose child then calls a libc
// wrapper before exec; such code avoids libc in its children anyway.
HFSHIM_HOT_PATH bool OwnerProcess() {
  if (__atomic_load_n(&hfshim_vfork_inflight, __ATOMIC_RELAXED) == 0 &&
      !g_check_pid.load(std::memory_order_relaxed)) {
    return true;
  }
  return static_cast<pid_t>(RawSyscall(SYS_getpid)) == g_owner_pid.load(std::memory_order_relaxed);
}

void NoteUntrackedProcess() { g_check_pid.store(true, std::memory_order_relaxed); }

void ChkFail() { __chk_fail(); }

namespace {

const char* PlainGetenv(const char* name) { return ::getenv(name); }

// Bit i set: fd i (0-2) was inherited across exec on a partial (lazy) cache file.
std::atomic<unsigned> g_lazy_stdio{0};
// The program's main, when __libc_start_main runs MainAfterLazyStdio in its place.
int (*g_program_main)(int, char**, char**) = nullptr;

// Marks fds inherited across exec that are open on a partial (lazy) cache file, so their reads
// fetch before the kernel returns holes. PRELOAD-SAFE: raw syscalls and stack buffers only.
void MarkInheritedLazyFds() {
  const int dir = static_cast<int>(
      RawSyscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir < 0) return;
  alignas(8) char entries[4096];
  static constexpr char kSuffix[] = ".partial";
  constexpr size_t kSuffixLength = sizeof(kSuffix) - 1;
  for (;;) {
    const long n = RawSyscall(SYS_getdents64, dir, entries, sizeof(entries));
    if (n <= 0) break;
    for (long pos = 0; pos < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(entries + pos);
      pos += d->d_reclen;
      int fd = 0;
      const char* c = d->d_name;
      if (*c < '0' || *c > '9') continue;
      for (; *c >= '0' && *c <= '9'; ++c) fd = fd * 10 + (*c - '0');
      if (fd == dir) continue;  // 0-2 too: `cmd < file` hands a lazy fd over as stdin
      char proc[40] = "/proc/self/fd/";
      size_t len = 14;
      for (const char* p = d->d_name; *p != '\0' && len + 1 < sizeof(proc); ++p) proc[len++] = *p;
      proc[len] = '\0';
      char target[512];
      const long t = RawSyscall(SYS_readlinkat, AT_FDCWD, proc, target, sizeof(target));
      // "<hash>.partial", or "<hash>.partial (deleted)" once evicted: reads must then fail.
      static constexpr char kDeleted[] = " (deleted)";
      long end = t;
      if (end > 10 && std::memcmp(target + end - 10, kDeleted, 10) == 0) end -= 10;
      if (end > static_cast<long>(kSuffixLength) &&
          std::memcmp(target + end - kSuffixLength, kSuffix, kSuffixLength) == 0) {
        SetFdHint(fd, FdKind::kLazy);
        if (fd < 3) g_lazy_stdio.fetch_or(1u << fd, std::memory_order_relaxed);
      }
    }
  }
  RawSyscall(SYS_close, dir);
}

// `cmd < file` of a large file that is not cached yet: the program reads its stdin (or
// stdout/stderr) through stdio, whose reads no wrapper sees, so the kernel would return the
// unfetched holes as zeros. Runs in the program's main thread after every constructor and
// before main: the whole content is fetched; if that fails, the fd is replaced by a directory
// (reads fail with EISDIR; the cause was logged) rather than left with holes.
void CompleteLazyStdio() {
  const unsigned mask = g_lazy_stdio.load(std::memory_order_relaxed);
  for (int fd = 0; fd < 3; ++fd) {
    if ((mask & (1u << fd)) == 0 || FdHint(fd) != FdKind::kLazy) continue;
    Scope scope;
    const bool complete = scope.Run(
        false, [&](Vfs& vfs) { return vfs.CompleteFd(fd) == 0; }, [] { return false; });
    if (!complete) {
      const int dir = REAL(open)("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir >= 0) {
        if (REAL(dup2)(dir, fd) == fd) ClearFdHint(fd);
        REAL(close)(dir);
      }
    }
  }
}

// Whether `real` is defined by glibc itself (the object that defines __libc_single_threaded),
// not by another preloaded library.
template <typename Fn>
bool FromGlibc(Fn real) {
  Dl_info fn, libc;
  return real != nullptr && dladdr(reinterpret_cast<const void*>(real), &fn) != 0 &&
         dladdr(const_cast<char*>(&__libc_single_threaded), &libc) != 0 &&
         fn.dli_fbase == libc.dli_fbase;
}

int MainAfterLazyStdio(int argc, char** argv, char** envp) {
  CompleteLazyStdio();
  return g_program_main(argc, argv, envp);
}

// PRELOAD-SAFE: runs while the loader initialises us; other constructors may already have called
// our wrappers (they passed through: Ready() was false).
__attribute__((constructor(101))) void InitShim() {
  const int saved_errno = errno;
  ++t_depth;
#define SHIM_REAL(name, version, ret, params) real_##name = Cast<name##_fn>(Lookup(#name, version));
#define SHIM_ALIAS(name, target)
#define SHIM_EXPORT(name)
#include "shim/symbols.def"
#undef SHIM_REAL
#undef SHIM_ALIAS
#undef SHIM_EXPORT
  LibcTable table = Libc();
  table.open = REAL(open);
  table.close = REAL(close);
  table.fstat = REAL(fstat);
  table.stat = REAL(stat);
  table.lstat = REAL(lstat);
  table.rename = REAL(rename);
  table.link = REAL(link);
  table.linkat = REAL(linkat);
  table.unlink = REAL(unlink);
  table.mkdir = REAL(mkdir);
  table.rmdir = REAL(rmdir);
  table.readlink = REAL(readlink);
  table.utimensat = REAL(utimensat);
  table.symlink = REAL(symlink);
  SetLibcTable(table);
  g_next_is_glibc = FromGlibc(real_openat) && FromGlibc(real_close) && FromGlibc(real_read) &&
                    FromGlibc(real_fstatat) && FromGlibc(real_statx);
  g_owner_pid.store(static_cast<pid_t>(RawSyscall(SYS_getpid)), std::memory_order_relaxed);
  // errno's place relative to the thread pointer, the same in every thread (Errno(), shim.h).
  g_errno_offset = reinterpret_cast<char*>(&errno) - static_cast<char*>(__builtin_thread_pointer());
  if (InitRouter(&PlainGetenv)) {
    MarkInheritedLazyFds();
    pthread_atfork(&OnPrepareFork, &OnParentAfterFork, &OnChildAfterFork);
    g_ready.store(true, std::memory_order_release);
  }
  --t_depth;
  errno = saved_errno;
}

}  // namespace
}  // namespace hfshim::shim

// ---- process creation that skips the atfork handlers (see OwnerProcess)

// vfork: glibc's own sequence (x86_64 vfork.S: the return address kept in %rdi, which the
// syscall preserves, because the child reuses and overwrites the parent's stack), plus the
// in-flight count: incremented before the syscall, decremented only on the parent's return.
// It never touches the stack between the syscall and `ret`, so it is safe to return twice.
// (glibc's shadow-stack branch is omitted: Debian 12's kernel and glibc run without user SHSTK.)
extern "C" __attribute__((visibility("hidden"))) long hfshim_vfork_failed(long neg_errno) {
  errno = static_cast<int>(-neg_errno);
  return -1;
}

asm(R"(
  .text
  .globl vfork
  .type vfork, @function
  .p2align 4
vfork:
  .cfi_startproc
  endbr64
  lock incl hfshim_vfork_inflight(%rip)
  popq %rdi
  .cfi_adjust_cfa_offset -8
  .cfi_register %rip, %rdi
  movl $58, %eax
  syscall
  pushq %rdi
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %rip, 0
  testq %rax, %rax
  jz 1f
  lock decl hfshim_vfork_inflight(%rip)
  cmpq $-4095, %rax
  jae 2f
1:
  ret
2:
  movq %rax, %rdi
  jmp hfshim_vfork_failed
  .cfi_endproc
  .size vfork, .-vfork
)");
static_assert(SYS_vfork == 58, "the vfork assembly above is x86_64's");

extern "C" __attribute__((visibility("default"))) int __libc_start_main(
    int (*main)(int, char**, char**), int argc, char** argv, void* init, void* fini,
    void* rtld_fini, void* stack_end) {
  if (hfshim::shim::g_lazy_stdio.load(std::memory_order_relaxed) != 0) {
    hfshim::shim::g_program_main = main;
    main = &hfshim::shim::MainAfterLazyStdio;
  }
  return REAL(__libc_start_main)(main, argc, argv, init, fini, rtld_fini, stack_end);
}

extern "C" __attribute__((visibility("default"))) pid_t _Fork(void) {
  pid_t pid = REAL(_Fork)();
  if (pid == 0) hfshim::shim::NoteUntrackedProcess();  // the child's copy: no handlers ran
  return pid;
}

extern "C" __attribute__((visibility("default"))) int clone(int (*fn)(void*), void* stack,
                                                            int flags, void* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  pid_t* parent_tid = va_arg(ap, pid_t*);
  void* tls = va_arg(ap, void*);
  pid_t* child_tid = va_arg(ap, pid_t*);
  va_end(ap);
  if ((flags & CLONE_THREAD) == 0) hfshim::shim::NoteUntrackedProcess();
  return REAL(clone)(fn, stack, flags, arg, parent_tid, tls, child_tid);
}
