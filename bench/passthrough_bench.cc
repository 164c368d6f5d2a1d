// Cost of libc calls OUTSIDE the hub cache prefix. Run it twice, plain and with
// LD_PRELOAD=libhfshim.so (bench/micro.sh does both): the difference is what the shim adds to
// every passthrough call (target: <= 20 ns).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "benchmark/benchmark.h"

namespace {

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
  struct stat st;
  for (auto _ : state) {
    benchmark::DoNotOptimize(stat(Path().c_str(), &st));
  }
}
BENCHMARK(BM_Stat);

void BM_StatMissing(benchmark::State& state) {
  struct stat st;
  for (auto _ : state) {
    benchmark::DoNotOptimize(stat("/tmp/hfshim-passthrough-does-not-exist", &st));
  }
}
BENCHMARK(BM_StatMissing);

void BM_OpenClose(benchmark::State& state) {
  for (auto _ : state) {
    int fd = open(Path().c_str(), O_RDONLY | O_CLOEXEC);
    benchmark::DoNotOptimize(fd);
    close(fd);
  }
}
BENCHMARK(BM_OpenClose);

void BM_OpenReadClose(benchmark::State& state) {
  char buf[16];
  for (auto _ : state) {
    int fd = open(Path().c_str(), O_RDONLY | O_CLOEXEC);
    benchmark::DoNotOptimize(read(fd, buf, sizeof(buf)));
    close(fd);
  }
}
BENCHMARK(BM_OpenReadClose);

void BM_Pread(benchmark::State& state) {
  int fd = open(Path().c_str(), O_RDONLY | O_CLOEXEC);
  char buf[16];
  for (auto _ : state) {
    benchmark::DoNotOptimize(pread(fd, buf, sizeof(buf), 0));
  }
  close(fd);
}
BENCHMARK(BM_Pread);

}  // namespace
