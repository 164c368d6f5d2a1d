#include "core/push/pusher.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/hash.h"
#include "core/base/parallel_parts.h"
#include "core/base/status_macros.h"
#include "core/env/file_util.h"
#include "core/index/index_reader.h"
#include "core/push/hub_scanner.h"
#include "core/push/pack_writer.h"
#include "core/push/publisher.h"
#include "core/push/read_order.h"
#include "core/push/repo_id.h"
#include "core/store/layout.h"

namespace hfshim {
namespace {

struct StoredContent {
  ContentLocation location;
  uint32_t block_size = 0;
  std::vector<uint64_t> checksums;
};

// Reads a file once: its content hash, per-block checksums and (if keep) its bytes.
struct FileDigest {
  Hash128 hash;
  std::vector<uint64_t> checksums;
  std::string bytes;
};

absl::StatusOr<FileDigest> Digest(Env* env, const std::string& path, uint64_t size,
                                  uint64_t block_size, bool keep) {
  ASSIGN_OR_RETURN(int fd, env->Open(path, O_RDONLY));
  FileDigest d;
  ContentHasher hasher;
  std::string block(std::min<uint64_t>(block_size, std::max<uint64_t>(size, 1)), '\0');
  uint64_t off = 0;
  absl::Status s;
  while (s.ok() && off < size) {
    const uint64_t want = std::min<uint64_t>(block_size, size - off);
    uint64_t got = 0;
    while (s.ok() && got < want) {
      auto n = env->Pread(fd, block.data() + got, want - got, off + got);
      if (!n.ok()) {
        s = n.status();
      } else if (*n == 0) {
        s = absl::FailedPreconditionError(absl::StrCat(path, " shrank while pushing"));
      } else {
        got += *n;
      }
    }
    if (!s.ok()) break;
    absl::string_view chunk(block.data(), want);
    hasher.Update(chunk);
    d.checksums.push_back(BlockChecksum(chunk));
    if (keep) d.bytes.append(chunk.data(), chunk.size());
    off += want;
  }
  env->Close(fd).IgnoreError();
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("read ", path, ": ", s.message(),
                                               "; the file must stay readable during a push"));
  }
  d.hash = hasher.Finish();
  return d;
}

class Pusher {
 public:
  Pusher(ObjectStore* store, Env* env, const PushOptions& o) : store_(store), env_(env), o_(o) {}

  absl::StatusOr<PushSummary> Run() {
    const absl::Time start = absl::Now();
    RETURN_IF_ERROR(MakeDirs(env_, o_.work_dir, 0700));
    ASSIGN_OR_RETURN(std::vector<ScannedRepo> repos, ScanHubCache(env_, o_.hub_dir, o_.repo_dirs));
    if (repos.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no repos (models--*, datasets--*, spaces--*) in ", o_.hub_dir,
                       "; pass the hub cache directory, e.g. ~/.cache/huggingface/hub"));
    }
    RETURN_IF_ERROR(store_->EnsureCreated(Deadline()));
    ASSIGN_OR_RETURN(LoadedGeneration base,
                     LoadLatestGeneration(store_, env_, o_.work_dir, Deadline()));
    if (base.reader != nullptr) RETURN_IF_ERROR(LearnStoredContent(*base.reader));

    std::vector<ScannedEntry*> files;
    for (ScannedRepo& r : repos) {
      summary_.repos.push_back(*RepoIdForDir(r.dir_name));
      replaced_.push_back(r.dir_name);
      for (ScannedEntry& e : r.entries) {
        ++summary_.entries;
        if (e.entry.type != EntryType::kFile) continue;
        files.push_back(&e);
        progress_.bytes_total += e.entry.size;
      }
    }
    progress_.files_total = files.size();
    summary_.files = files.size();
    SortInReadingOrder(repos, &files);
    RETURN_IF_ERROR(StoreSmallFiles(files));
    RETURN_IF_ERROR(StoreLargeFiles(files));
    summary_.bytes_scanned = progress_.bytes_done;

    PublishRequest req;
    req.replaced_repos = replaced_;
    req.work_dir = o_.work_dir;
    for (ScannedRepo& r : repos) {
      for (ScannedEntry& e : r.entries) req.entries.push_back({e.rel_path, e.entry});
    }
    if (base.reader != nullptr && Unchanged(*base.reader, req)) {
      summary_.up_to_date = true;
      summary_.sequence = base.head->sequence;
    } else {
      ASSIGN_OR_RETURN(summary_.sequence, PublishGeneration(store_, env_, req, Deadline()));
    }
    summary_.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    return summary_;
  }

 private:
  absl::Time Deadline() const { return absl::Now() + absl::Seconds(o_.timeout_seconds); }

  absl::Status LearnStoredContent(const IndexReader& reader) {
    return reader.ForEach([&](absl::string_view, const Entry& e) {
      if (e.type == EntryType::kFile && e.size > 0) {
        known_.try_emplace(e.content_hash,
                           StoredContent{e.location, e.block_size, e.block_checksums});
      }
      return true;
    });
  }

  // Fills the content fields of `e` from a known location.
  static void Assign(Entry* e, const Hash128& hash, const StoredContent& c) {
    e->content_hash = hash;
    e->location = c.location;
    e->block_size = c.block_size;
    e->block_checksums = c.checksums;
  }

  void Progress(uint64_t bytes) {
    std::lock_guard<std::mutex> lock(progress_mu_);
    progress_.files_done += 1;
    progress_.bytes_done += bytes;
    if (o_.progress) o_.progress(progress_);
  }

  // Small files, in reading order (read_order.h), into packs (one thread: the order is the
  // point).
  absl::Status StoreSmallFiles(const std::vector<ScannedEntry*>& files) {
    std::unique_ptr<PackWriter> pack;
    std::vector<ScannedEntry*> in_pack;
    int pack_number = 0;
    auto close_pack = [&]() -> absl::Status {
      if (pack == nullptr) return absl::OkStatus();
      ASSIGN_OR_RETURN(Hash128 hash, pack->Finish());
      const std::string key = PackKey(hash);
      RETURN_IF_ERROR(Upload(key, pack->path(), pack->size()));
      env_->Unlink(pack->path()).IgnoreError();
      for (ScannedEntry* e : in_pack) {
        e->entry.location.object_key = key;
        known_[e->entry.content_hash].location.object_key = key;
      }
      pack.reset();
      in_pack.clear();
      return absl::OkStatus();
    };
    for (ScannedEntry* e : files) {
      Entry& entry = e->entry;
      if (entry.size >= o_.pack_threshold && entry.size > 0) continue;
      entry.block_size = static_cast<uint32_t>(o_.block_size);
      if (entry.size == 0) {
        entry.content_hash = ContentHash("");
        Progress(0);
        continue;
      }
      ASSIGN_OR_RETURN(FileDigest d, Digest(env_, e->local_path, entry.size, o_.block_size,
                                            /*keep=*/true));
      if (auto it = known_.find(d.hash); it != known_.end()) {
        Assign(&entry, d.hash, it->second);
        summary_.bytes_deduplicated += entry.size;
        if (it->second.location.object_key.empty()) in_pack.push_back(e);  // same open pack
      } else {
        if (pack == nullptr) {
          ASSIGN_OR_RETURN(
              pack, PackWriter::Create(
                        env_, absl::StrCat(o_.work_dir, "/pack-", getpid(), "-", pack_number++)));
        }
        ASSIGN_OR_RETURN(uint64_t offset, pack->Append(d.bytes));
        StoredContent c{{"", offset, entry.size}, entry.block_size, d.checksums};
        Assign(&entry, d.hash, c);
        known_.emplace(d.hash, std::move(c));
        in_pack.push_back(e);
      }
      Progress(entry.size);
      if (pack != nullptr && pack->size() >= o_.pack_target) RETURN_IF_ERROR(close_pack());
    }
    return close_pack();
  }

  // Large files as data/<hash>, hashed and uploaded by `threads` workers.
  absl::Status StoreLargeFiles(const std::vector<ScannedEntry*>& files) {
    std::vector<ScannedEntry*> large;
    for (ScannedEntry* e : files) {
      if (e->entry.size >= o_.pack_threshold && e->entry.size > 0) large.push_back(e);
    }
    std::atomic<size_t> next{0};
    std::mutex mu;
    absl::Status first_error;
    auto work = [&] {
      for (size_t i = next++; i < large.size(); i = next++) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!first_error.ok()) return;
        }
        absl::Status s = StoreLarge(large[i], &mu);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.ok()) first_error = s;
        }
      }
    };
    RunOnWorkers(std::max(1, std::min<int>(o_.threads, static_cast<int>(large.size()))),
                 [&](int) { work(); });
    return first_error;
  }

  absl::Status StoreLarge(ScannedEntry* e, std::mutex* mu) {
    Entry& entry = e->entry;
    entry.block_size = static_cast<uint32_t>(o_.block_size);
    ASSIGN_OR_RETURN(FileDigest d, Digest(env_, e->local_path, entry.size, o_.block_size, false));
    {
      std::lock_guard<std::mutex> lock(*mu);
      if (auto it = known_.find(d.hash); it != known_.end()) {
        Assign(&entry, d.hash, it->second);
        summary_.bytes_deduplicated += entry.size;
        Progress(entry.size);
        return absl::OkStatus();
      }
      // Claim it so another worker with the same content does not upload it too.
      known_.emplace(
          d.hash, StoredContent{{DataKey(d.hash), 0, entry.size}, entry.block_size, d.checksums});
    }
    Assign(&entry, d.hash,
           StoredContent{{DataKey(d.hash), 0, entry.size}, entry.block_size, d.checksums});
    RETURN_IF_ERROR(Upload(DataKey(d.hash), e->local_path, entry.size));
    Progress(entry.size);
    return absl::OkStatus();
  }

  // Uploads a local file as `key` unless the store already has it with that size.
  absl::Status Upload(const std::string& key, const std::string& local, uint64_t size) {
    auto head = store_->Head(key, Deadline());
    if (head.ok() && head->size == size) return absl::OkStatus();
    RETURN_IF_ERROR(store_->PutFile(key, local, Deadline()));
    std::lock_guard<std::mutex> lock(progress_mu_);
    summary_.objects_uploaded += 1;
    summary_.bytes_uploaded += size;
    return absl::OkStatus();
  }

  // True if `base` holds exactly the tree `req` would publish, in the current index format (a
  // repush of an older format publishes again, so readers get the newer format's lookups).
  static bool Unchanged(const IndexReader& base, const PublishRequest& req) {
    if (base.meta().format_version != kIndexFormatVersion) return false;
    size_t matched = 0;
    for (const PathEntry& pe : req.entries) {
      auto old = base.Lookup(pe.rel_path);
      Entry fresh = pe.entry;
      if (!old.ok()) return false;
      // Computed on write: directories' nlink, symlinks' linked files.
      if (fresh.type == EntryType::kDirectory) fresh.nlink = old->nlink;
      fresh.link_record = old->link_record;
      fresh.link_hops = old->link_hops;
      if (!(*old == fresh)) return false;
      ++matched;
    }
    size_t in_base = 0;
    absl::Status s = base.ForEach([&](absl::string_view p, const Entry&) {
      const absl::string_view top = p.substr(0, p.find('/'));
      for (const std::string& repo : req.replaced_repos) in_base += top == repo;
      return true;
    });
    return s.ok() && in_base == matched;
  }

  ObjectStore* store_;
  Env* env_;
  const PushOptions& o_;
  PushSummary summary_;
  PushProgress progress_;
  std::mutex progress_mu_;
  std::vector<std::string> replaced_;
  absl::flat_hash_map<Hash128, StoredContent> known_;
};

}  // namespace

absl::StatusOr<PushSummary> Push(ObjectStore* store, Env* env, const PushOptions& options) {
  Pusher pusher(store, env, options);
  return pusher.Run();
}

}  // namespace hfshim
