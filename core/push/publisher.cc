#include "core/push/publisher.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/hash.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/env/file_util.h"
#include "core/index/index_reader.h"
#include "core/index/index_writer.h"
#include "core/store/layout.h"

namespace hfshim {
namespace {

absl::string_view TopDir(absl::string_view path) { return path.substr(0, path.find('/')); }

struct BuiltGeneration {
  std::string path;
  uint64_t entry_count = 0;
};

// Builds base (minus replaced repos) + new entries into a generation file.
absl::StatusOr<BuiltGeneration> BuildGeneration(const IndexReader* base, const PublishRequest& req,
                                                uint64_t sequence) {
  const std::string path = absl::StrCat(req.work_dir, "/build-", getpid(), ".mdb");
  ASSIGN_OR_RETURN(auto writer, IndexWriter::Create(path));
  if (base != nullptr) {
    absl::Status added;
    RETURN_IF_ERROR(base->ForEach([&](absl::string_view p, const Entry& e) {
      const absl::string_view top = TopDir(p);
      if (std::find(req.replaced_repos.begin(), req.replaced_repos.end(), top) !=
          req.replaced_repos.end()) {
        return true;
      }
      added = writer->Add(p, e);
      return added.ok();
    }));
    RETURN_IF_ERROR(added);
  }
  for (const PathEntry& pe : req.entries) RETURN_IF_ERROR(writer->Add(pe.rel_path, pe.entry));
  IndexMeta meta;
  meta.sequence = sequence;
  meta.created_unix_ns = absl::ToUnixNanos(absl::Now());
  RETURN_IF_ERROR(writer->Finish(meta));
  return BuiltGeneration{path, writer->entry_count()};
}

}  // namespace

absl::StatusOr<LoadedGeneration> LoadLatestGeneration(ObjectStore* store, Env* env,
                                                      const std::string& work_dir,
                                                      absl::Time deadline) {
  LoadedGeneration g;
  ASSIGN_OR_RETURN(g.head, FindLatestHead(store, deadline));
  if (!g.head.has_value()) return g;
  ASSIGN_OR_RETURN(std::string path,
                   FetchGeneration(store, *g.head, work_dir + "/generations", env, deadline));
  ASSIGN_OR_RETURN(g.reader, IndexReader::Open(path));
  return g;
}

absl::StatusOr<uint64_t> PublishGeneration(ObjectStore* store, Env* env, const PublishRequest& req,
                                           absl::Time deadline) {
  RETURN_IF_ERROR(MakeDirs(env, req.work_dir, 0700));
  for (int attempt = 0; attempt < req.max_attempts; ++attempt) {
    ASSIGN_OR_RETURN(LoadedGeneration base,
                     LoadLatestGeneration(store, env, req.work_dir, deadline));
    const uint64_t sequence = base.head.has_value() ? base.head->sequence + 1 : 1;
    ASSIGN_OR_RETURN(BuiltGeneration built, BuildGeneration(base.reader.get(), req, sequence));
    auto bytes = ReadFile(env, built.path);
    env->Unlink(built.path).IgnoreError();
    if (!bytes.ok()) return bytes.status();
    const std::string index_key = IndexKey(ContentHash(*bytes));
    RETURN_IF_ERROR(store->Put(index_key, *bytes, deadline));
    HeadRecord head{sequence, index_key, absl::ToUnixNanos(absl::Now()), built.entry_count,
                    bytes->size()};
    absl::Status s = store->PutIfAbsent(HeadKey(sequence), EncodeHead(head), deadline);
    if (s.ok()) return sequence;
    if (!absl::IsAlreadyExists(s)) return s;
    Log(LogLevel::kInfo,
        absl::StrCat("head ", sequence, " was taken by a concurrent push; merging again"));
    absl::SleepFor(absl::Milliseconds(10 * (attempt + 1)));
  }
  return absl::AbortedError(absl::StrCat("could not publish after ", req.max_attempts,
                                         " attempts: too many concurrent pushes; try again"));
}

}  // namespace hfshim
