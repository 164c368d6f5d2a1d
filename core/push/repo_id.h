// Hub cache repo directory names <-> repo ids, as huggingface_hub names them:
//   models--org--name   <-> org/name            (also "name" for models without an org)
//   datasets--org--name <-> datasets/org/name
//   spaces--org--name   <-> spaces/org/name
#ifndef HFSHIM_CORE_PUSH_REPO_ID_H_
#define HFSHIM_CORE_PUSH_REPO_ID_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace hfshim {

// True for a top-level directory name of a repo (models--*, datasets--*, spaces--*).
bool IsRepoDirName(absl::string_view name);
// "models--org--name" -> "org/name"; nullopt if not a repo dir name.
std::optional<std::string> RepoIdForDir(absl::string_view dir_name);
// "org/name" / "datasets/org/name" / a dir name -> the dir name; an "@revision" suffix is
// dropped. nullopt if malformed.
std::optional<std::string> DirForRepoId(absl::string_view repo_id);

}  // namespace hfshim

#endif  // HFSHIM_CORE_PUSH_REPO_ID_H_
