#!/usr/bin/env bash
# Runs the micro benchmarks: passthrough costs under LD_PRELOAD (each call through libc directly
# and through the shim's wrapper, interleaved in one process: the difference is the shim's cost
# on calls outside the prefix), then every other *_bench binary.
#   bash bench/micro.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
lib=$build/install/lib/libhfshim.so
[ -f "$lib" ] || lib=$(find "$build" -name libhfshim.so | head -1)
args=(--benchmark_min_time=0.2 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true)
echo "== passthrough, LD_PRELOAD=$lib (prefix elsewhere): /0 libc itself, /1 through the shim"
HFSHIM_PREFIX=/nonexistent/hfshim-bench-prefix LD_PRELOAD=$lib "$build/bench/passthrough_bench" \
  "${args[@]}" --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true
for b in "$build"/bench/*_bench; do
  [ "$(basename "$b")" = passthrough_bench ] && continue
  echo "== $(basename "$b")"
  "$b" "${args[@]}"
done
