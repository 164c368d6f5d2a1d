// Process limits for tests that run code under them in a forked child.
#ifndef HFSHIM_TESTS_TESTING_PROCESS_LIMITS_H_
#define HFSHIM_TESTS_TESTING_PROCESS_LIMITS_H_

#include <cstddef>

namespace hfshim {

// Fork child only: limits the address space (RLIMIT_AS) to what the process maps now plus
// `headroom` bytes, so new mappings (an index, a thread's stack) fail. False if it could not.
bool LimitAddressSpaceToCurrentPlus(size_t headroom);

}  // namespace hfshim

#endif  // HFSHIM_TESTS_TESTING_PROCESS_LIMITS_H_
