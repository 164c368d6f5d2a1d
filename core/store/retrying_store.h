// RetryingStore: wraps a remote store with bounded retries (RetryPolicy: exponential backoff with
// jitter, only on retryable statuses, never past the call's deadline). OpenStore wraps every
// remote store (S3, HTTP) in one; the local store needs none.
//
// PutIfAbsent: when an attempt's answer was lost (a reset after the server stored the object), the
// retry sees AlreadyExists; the wrapper then reads the object back and reports OK if it holds
// exactly our bytes, so a lost answer never turns our own success into a conflict.
//
// Thread-safe if the wrapped store is.
#ifndef HFSHIM_CORE_STORE_RETRYING_STORE_H_
#define HFSHIM_CORE_STORE_RETRYING_STORE_H_

#include <memory>

#include "core/store/object_store.h"
#include "core/store/retry_policy.h"

namespace hfshim {

// `retries` retries after the first attempt of each call (Config.retries).
std::unique_ptr<ObjectStore> NewRetryingStore(std::unique_ptr<ObjectStore> target, int retries);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_RETRYING_STORE_H_
