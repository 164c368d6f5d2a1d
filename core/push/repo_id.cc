#include "core/push/repo_id.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace hfshim {
namespace {
constexpr absl::string_view kKinds[] = {"models", "datasets", "spaces"};
}

bool IsRepoDirName(absl::string_view name) { return RepoIdForDir(name).has_value(); }

std::optional<std::string> RepoIdForDir(absl::string_view dir) {
  for (absl::string_view kind : kKinds) {
    std::string prefix = absl::StrCat(kind, "--");
    if (absl::StartsWith(dir, prefix) && dir.size() > prefix.size()) {
      std::string rest = absl::StrReplaceAll(dir.substr(prefix.size()), {{"--", "/"}});
      return kind == "models" ? rest : absl::StrCat(kind, "/", rest);
    }
  }
  return std::nullopt;
}

std::optional<std::string> DirForRepoId(absl::string_view id) {
  id = id.substr(0, id.find('@'));
  while (absl::ConsumeSuffix(&id, "/")) {
  }
  if (id.empty()) return std::nullopt;
  if (IsRepoDirName(id)) return std::string(id);
  std::vector<absl::string_view> parts = absl::StrSplit(id, '/');
  std::string kind = "models";
  if (parts.size() >= 2 &&
      (parts[0] == "datasets" || parts[0] == "spaces" || parts[0] == "models")) {
    kind = std::string(parts[0]);
    parts.erase(parts.begin());
  }
  if (parts.empty() || parts.size() > 2) return std::nullopt;
  for (absl::string_view p : parts) {
    if (p.empty() || p == "." || p == "..") return std::nullopt;
  }
  return absl::StrCat(kind, "--", absl::StrJoin(parts, "--"));
}

}  // namespace hfshim
