// RunParts: the parts of one job (ranges of a download or an upload) on a few threads.
//
// Thread-safety: RunParts may be called from any thread; `part` is called concurrently.
#ifndef HFSHIM_CORE_BASE_PARALLEL_PARTS_H_
#define HFSHIM_CORE_BASE_PARALLEL_PARTS_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"

namespace hfshim {

// Calls `part(i, worker)` once for every i in [0, parts), on up to `parallel` threads (the
// caller's one of them); `worker` in [0, min(parallel, parts)) names the thread, for per-thread
// buffers. Once a part fails, no further part starts. Returns after every started part ended:
// the first failure, else OK.
absl::Status RunParts(uint64_t parts, int parallel,
                      const std::function<absl::Status(uint64_t part, int worker)>& part);

}  // namespace hfshim

#endif  // HFSHIM_CORE_BASE_PARALLEL_PARTS_H_
