// StoreGenerations: the GenerationSource of a real process — the newest head in the object
// store, its generation downloaded once into <cache_dirs[0]>/index/ (core/index/generation.h).
//
// Thread-safety: Latest() is called by one thread at a time (Generations serialises it).
#ifndef HFSHIM_CORE_VFS_STORE_GENERATIONS_H_
#define HFSHIM_CORE_VFS_STORE_GENERATIONS_H_

#include <memory>
#include <string>

#include "core/config/config.h"
#include "core/store/object_store.h"
#include "core/vfs/generations.h"

namespace hfshim {

// `store` must outlive the source. Generations are kept in `index_dir`.
std::unique_ptr<GenerationSource> MakeStoreGenerationSource(ObjectStore* store,
                                                            const Config& config,
                                                            std::string index_dir);

}  // namespace hfshim

#endif  // HFSHIM_CORE_VFS_STORE_GENERATIONS_H_
