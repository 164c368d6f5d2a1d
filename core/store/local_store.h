// LocalStore: an ObjectStore in a local directory (file:///dir), the embedded default store.
//
// Each key is a file under the root ("packs/ab.." -> <root>/packs/ab..). Puts write a temp file,
// fsync it and rename it into place, so readers see the old object or the new one. PutIfAbsent
// links the temp file to the key: link(2) fails with EEXIST atomically, across processes and
// across NFS clients, so exactly one of several concurrent creators wins. Deadlines are not
// enforced for local I/O. Thread-safe.
#ifndef HFSHIM_CORE_STORE_LOCAL_STORE_H_
#define HFSHIM_CORE_STORE_LOCAL_STORE_H_

#include <memory>
#include <string>

#include "core/env/env.h"
#include "core/store/object_store.h"

namespace hfshim {

// `root` is an absolute directory (created on first write). `env` must outlive the store.
std::unique_ptr<ObjectStore> NewLocalStore(const std::string& root, Env* env = Env::Default());

// Checks a key: relative, '/'-separated, no empty, "." or ".." components. InvalidArgument else.
absl::Status ValidateKey(absl::string_view key);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_LOCAL_STORE_H_
