// RunOnWorkers and RunParts: the work of one job (ranges of a download or an upload, the blocks
// of a fill, the files of a warm-up) on a few threads.
//
// Thread-safety: both may be called from any thread; their callbacks are called concurrently.
#ifndef HFSHIM_CORE_BASE_PARALLEL_PARTS_H_
#define HFSHIM_CORE_BASE_PARALLEL_PARTS_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"

namespace hfshim {

// Runs `body(worker)` on the calling thread (worker 0) and on up to `count - 1` more threads
// (workers 1, 2, ...); returns once every one has returned. When the system refuses a thread (a
// container's pids limit, `ulimit -u`, no address space for its stack) fewer workers run, and
// nothing is thrown: the shim's callers are libc entry points, which no exception may cross. So
// the bodies must share out the work (a common counter), never assume a worker count.
void RunOnWorkers(int count, const std::function<void(int worker)>& body);

// Calls `part(i, worker)` once for every i in [0, parts), on up to `parallel` threads (the
// caller's one of them); `worker` in [0, min(parallel, parts)) names the thread, for per-thread
// buffers. Once a part fails, no further part starts. Returns after every started part ended:
// the first failure, else OK.
absl::Status RunParts(uint64_t parts, int parallel,
                      const std::function<absl::Status(uint64_t part, int worker)>& part);

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_PARALLEL_PARTS_H_
