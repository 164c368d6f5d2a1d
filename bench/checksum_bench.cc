// Block checksum and content hash throughput (4 MiB blocks, the default HFSHIM_BLOCK_SIZE).
#include <string>

#include "benchmark/benchmark.h"
#include "core/base/hash.h"

namespace hfshim {
namespace {

void BM_BlockChecksum(benchmark::State& state) {
  std::string block(static_cast<size_t>(state.range(0)), 'x');
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>(i * 131);
  for (auto _ : state) benchmark::DoNotOptimize(BlockChecksum(block));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_BlockChecksum)->Arg(16 << 10)->Arg(4 << 20);

void BM_ContentHash(benchmark::State& state) {
  std::string block(static_cast<size_t>(state.range(0)), 'y');
  for (auto _ : state) benchmark::DoNotOptimize(ContentHash(block));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ContentHash)->Arg(4 << 20);

}  // namespace
}  // namespace hfshim
