// Cost of libc calls OUTSIDE the hub cache prefix (target: the shim adds <= 20 ns to each).
//
// Every benchmark runs twice in the same process, interleaved by Google Benchmark:
//   /0  libc's own function, looked up in libc.so.6 itself (bypasses any preloaded library)
//   /1  the function the program's symbol resolves to: under LD_PRELOAD=libhfshim.so, the shim's
//       wrapper, which then calls libc
// so /1 - /0 is what the shim adds to a passthrough call, measured under the same machine
// conditions (bench/micro.sh runs this binary preloaded). Without the preload both are libc.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "benchmark/benchmark.h"

namespace {

struct Calls {
  int (*open)(const char*, int, ...);
  int (*close)(int);
  int (*stat)(const char*, struct stat*);
  ssize_t (*read)(int, void*, size_t);
  ssize_t (*pread)(int, void*, size_t, off_t);
};

template <typename F>
F FromLibc(void* libc, const char* name) {
  void* f = dlsym(libc, name);
  if (f == nullptr) {
    std::fprintf(stderr, "passthrough_bench: %s not found in libc.so.6\n", name);
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

const Calls& CallsFor(int variant) {
  static const Calls libc = [] {
    void* h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (h == nullptr) std::abort();
    return Calls{
        FromLibc<decltype(Calls::open)>(h, "open"), FromLibc<decltype(Calls::close)>(h, "close"),
        FromLibc<decltype(Calls::stat)>(h, "stat"), FromLibc<decltype(Calls::read)>(h, "read"),
        FromLibc<decltype(Calls::pread)>(h, "pread")};
  }();
  static const Calls program{&open, &close, &stat, &read, &pread};
  return variant == 0 ? libc : program;
}

void Label(benchmark::State& state) { state.SetLabel(state.range(0) == 0 ? "libc" : "symbol"); }

std::string TempFile() {
  char tmpl[] = "/tmp/hfshim-passthrough-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) std::abort();
  if (write(fd, "0123456789", 10) != 10) std::abort();
  close(fd);
  return tmpl;
}

const std::string& Path() {
  static const std::string path = TempFile();
  return path;
}

void BM_Stat(benchmark::State& state) {
  const Calls& c = CallsFor(state.range(0));
  struct stat st;
  for (auto _ : state) benchmark::DoNotOptimize(c.stat(Path().c_str(), &st));
  Label(state);
}
BENCHMARK(BM_Stat)->Arg(0)->Arg(1);

void BM_StatMissing(benchmark::State& state) {
  const Calls& c = CallsFor(state.range(0));
  struct stat st;
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.stat("/tmp/hfshim-passthrough-does-not-exist", &st));
  }
  Label(state);
}
BENCHMARK(BM_StatMissing)->Arg(0)->Arg(1);

// open of a missing path: the open wrapper alone (no fd, so no close).
void BM_OpenMissing(benchmark::State& state) {
  const Calls& c = CallsFor(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.open("/tmp/hfshim-passthrough-does-not-exist", O_RDONLY));
  }
  Label(state);
}
BENCHMARK(BM_OpenMissing)->Arg(0)->Arg(1);

void BM_OpenClose(benchmark::State& state) {
  const Calls& c = CallsFor(state.range(0));
  for (auto _ : state) {
    int fd = c.open(Path().c_str(), O_RDONLY | O_CLOEXEC);
    benchmark::DoNotOptimize(fd);
    c.close(fd);
  }
  Label(state);
}
BENCHMARK(BM_OpenClose)->Arg(0)->Arg(1);

void BM_OpenReadClose(benchmark::State& state) {
  const Calls& c = CallsFor(state.range(0));
  char buf[16];
  for (auto _ : state) {
    int fd = c.open(Path().c_str(), O_RDONLY | O_CLOEXEC);
    benchmark::DoNotOptimize(c.read(fd, buf, sizeof(buf)));
    c.close(fd);
  }
  Label(state);
}
BENCHMARK(BM_OpenReadClose)->Arg(0)->Arg(1);

void BM_Pread(benchmark::State& state) {
  const Calls& c = CallsFor(state.range(0));
  int fd = open(Path().c_str(), O_RDONLY | O_CLOEXEC);
  char buf[16];
  for (auto _ : state) benchmark::DoNotOptimize(c.pread(fd, buf, sizeof(buf), 0));
  close(fd);
  Label(state);
}
BENCHMARK(BM_Pread)->Arg(0)->Arg(1);

// Why a wrapper makes its system call itself (shim/kernel_call.h): the same system call (getppid,
// raw) made N function frames below the loop. On CPUs whose kernel refills the return stack
// buffer on the way out, each frame between the loop and the system call adds a mispredicted
// return; compare /0 with /N.
template <int N>
[[gnu::noinline]] long SyscallBelow() {
  if constexpr (N == 0) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(SYS_getppid) : "rcx", "r11", "memory");
    return r;
  } else {
    const long r = SyscallBelow<N - 1>();
    __asm__ volatile("" ::: "memory");  // no tail call: the frame stays
    return r + 1;
  }
}

void BM_SyscallFramesBelow(benchmark::State& state) {
  long (*const call)() = state.range(0) == 0   ? &SyscallBelow<0>
                         : state.range(0) == 2 ? &SyscallBelow<2>
                                               : &SyscallBelow<6>;
  for (auto _ : state) benchmark::DoNotOptimize(call());
}
BENCHMARK(BM_SyscallFramesBelow)->Arg(0)->Arg(2)->Arg(6);

}  // namespace
