// FallbackStore: a comma-separated list of stores ("http://mirror/x,s3://bucket/x"): reads go to
// the first store that has the object, falling back to the next on a miss or a failure (a nearby
// mirror first, the primary last); writes go to the last store, the primary.
//
// List asks the primary first: it is authoritative for heads, so nodes see a push as soon as it
// is published, and fetch its content from the mirror where the mirror already has it. Only when
// the primary cannot list do the mirrors answer, in order (an HTTP mirror lists only heads, see
// http_store.h); a mirror's heads may lag, which is safe: they name complete generations. Every
// call shares the one deadline across the stores it tries. Errors name each store's cause.
//
// Thread-safe if the stores are.
#ifndef HFSHIM_CORE_STORE_FALLBACK_STORE_H_
#define HFSHIM_CORE_STORE_FALLBACK_STORE_H_

#include <memory>
#include <vector>

#include "core/store/object_store.h"

namespace hfshim {

// Requires at least one store.
std::unique_ptr<ObjectStore> NewFallbackStore(std::vector<std::unique_ptr<ObjectStore>> stores);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_FALLBACK_STORE_H_
