#include "core/index/generation.h"

#include <fcntl.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "core/base/hash.h"
#include "core/base/parallel_parts.h"
#include "core/base/status_macros.h"
#include "core/env/file_util.h"
#include "core/index/index_reader.h"
#include "core/store/layout.h"
#include "core/store/range_sink.h"

namespace hfshim {
namespace {

constexpr char kHeadMagic[] = "hfshim-head 1";

// The content hash a generation's key names ("index/<hash>.mdb"), or false.
bool HashOfIndexKey(absl::string_view key, Hash128* hash) {
  if (!absl::ConsumePrefix(&key, kIndexPrefix) || !absl::ConsumeSuffix(&key, ".mdb")) {
    return false;
  }
  return Hash128::FromHex(key, hash);
}

// The RangeSink of one part of a generation download: bytes [offset, offset + length) of the
// object go to `fd` at the same offsets, through a staging buffer written out at each
// kHugeChunk boundary of the file. Rewind keeps what was written. One thread at a time.
//
// Why 2 MiB-aligned writes: ext4 (Linux 6.16 and later) caches a file in folios as large as
// the writes that filled it, and maps 2 MiB folios into a process with one huge-page entry. The
// generation is mapped by every process of the node and read at random (a lookup touches a slot
// and a record); with huge-page mappings those reads miss the TLB far less (bench/README.md,
// thirteenth session). Other kernels and file systems just see 2 MiB writes.
class FilePartSink final : public RangeSink {
 public:
  static constexpr size_t kHugeChunk = size_t{2} << 20;

  FilePartSink(Env* env, int fd, uint64_t offset, uint64_t length)
      : env_(env), fd_(fd), offset_(offset), length_(length), staging_(new char[kHugeChunk]) {}

  absl::Span<char> Room() override {
    const uint64_t at = offset_ + written_ + staged_;
    const uint64_t to_boundary = kHugeChunk - at % kHugeChunk;
    const uint64_t left = length_ - written_ - staged_;
    return absl::Span<char>(staging_.get() + staged_, std::min(left, to_boundary));
  }
  absl::Status Filled(size_t n) override {
    staged_ += n;
    return (offset_ + written_ + staged_) % kHugeChunk == 0 ? Flush() : absl::OkStatus();
  }
  uint64_t Rewind() override {
    staged_ = 0;
    return written_;
  }
  // Writes what is staged; DataLoss unless all `length` bytes arrived.
  absl::Status Finish() {
    RETURN_IF_ERROR(Flush());
    if (written_ != length_) {
      return absl::DataLossError(absl::StrCat(written_, " of ", length_, " bytes arrived"));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Flush() {
    if (staged_ == 0) return absl::OkStatus();
    RETURN_IF_ERROR(
        WriteAll(env_, fd_, absl::string_view(staging_.get(), staged_), offset_ + written_));
    written_ += staged_;
    staged_ = 0;
    return absl::OkStatus();
  }

  Env* const env_;
  const int fd_;
  const uint64_t offset_, length_;
  std::unique_ptr<char[]> staging_;  // at most up to the next kHugeChunk boundary of the file
  uint64_t written_ = 0;             // bytes in the file
  size_t staged_ = 0;                // bytes in staging_ after them
};

// A generation this large is fetched with parallel ranged GETs, up to kMaxIndexParts.
constexpr uint64_t kIndexPartBytes = 8 << 20;
constexpr uint64_t kMaxIndexParts = 4;

// Writes the `size` bytes of object `key` into `fd` (opened for reading and writing), with
// parallel ranged GETs for a large object, and returns the content hash of what the file then
// holds. Nothing is held in memory beyond a staging buffer per GET.
absl::StatusOr<Hash128> DownloadTo(ObjectStore* store, const std::string& key, uint64_t size,
                                   Env* env, int fd, absl::Time deadline) {
  const uint64_t parts = std::clamp<uint64_t>(size / kIndexPartBytes, 1, kMaxIndexParts);
  // Parts start at kHugeChunk boundaries (FilePartSink); the last one may be shorter or empty.
  constexpr uint64_t kChunk = FilePartSink::kHugeChunk;
  const uint64_t part = ((size + parts - 1) / parts + kChunk - 1) / kChunk * kChunk;
  RETURN_IF_ERROR(RunParts(parts, parts, [&](uint64_t i, int) {
    const uint64_t offset = std::min(i * part, size), length = std::min(part, size - offset);
    if (length == 0) return absl::OkStatus();
    FilePartSink sink(env, fd, offset, length);
    RETURN_IF_ERROR(store->GetRangeTo(key, offset, length, &sink, deadline));
    return sink.Finish();
  }));
  ContentHasher hasher;  // over the file, as later readers will see it
  constexpr size_t kReadBack = 256 << 10;
  std::unique_ptr<char[]> buffer(new char[kReadBack]);
  for (uint64_t off = 0; off < size;) {
    ASSIGN_OR_RETURN(size_t n,
                     env->Pread(fd, buffer.get(), std::min<uint64_t>(kReadBack, size - off), off));
    if (n == 0) return absl::DataLossError("the downloaded generation file shrank");
    hasher.Update(absl::string_view(buffer.get(), n));
    off += n;
  }
  return hasher.Finish();
}

}  // namespace

std::string EncodeHead(const HeadRecord& h) {
  return absl::StrCat(kHeadMagic, "\nsequence ", h.sequence, "\nindex ", h.index_key,
                      "\ncreated_unix_ns ", h.created_unix_ns, "\nentries ", h.entry_count, "\n",
                      h.index_bytes != 0 ? absl::StrCat("index_bytes ", h.index_bytes, "\n") : "");
}

absl::StatusOr<HeadRecord> DecodeHead(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.empty() || !absl::StartsWith(lines[0], "hfshim-head ")) {
    return absl::DataLossError("head record is not an hfshim head");
  }
  if (lines[0] != kHeadMagic) {
    return absl::DataLossError(absl::StrCat("head record has version '", lines[0].substr(12),
                                            "', this build reads 1; upgrade hfshim"));
  }
  HeadRecord h;
  int seen = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(lines[i], absl::MaxSplits(' ', 1));
    bool ok = true;
    if (kv.first == "sequence") {
      ok = absl::SimpleAtoi(kv.second, &h.sequence);
      seen |= 1;
    } else if (kv.first == "index") {
      h.index_key = std::string(kv.second);
      Hash128 unused;
      ok = HashOfIndexKey(h.index_key, &unused);
      seen |= 2;
    } else if (kv.first == "created_unix_ns") {
      ok = absl::SimpleAtoi(kv.second, &h.created_unix_ns);
    } else if (kv.first == "entries") {
      ok = absl::SimpleAtoi(kv.second, &h.entry_count);
    } else if (kv.first == "index_bytes") {
      ok = absl::SimpleAtoi(kv.second, &h.index_bytes);
    }  // unknown keys are ignored: later minor additions stay readable
    if (!ok) return absl::DataLossError(absl::StrCat("head record line '", lines[i], "' is bad"));
  }
  if (seen != 3) return absl::DataLossError("head record lacks sequence or index");
  return h;
}

absl::StatusOr<std::optional<ListedHead>> ListNewestHead(ObjectStore* store, absl::Time deadline) {
  ASSIGN_OR_RETURN(std::vector<ObjectInfo> heads, store->List(kHeadPrefix, deadline));
  std::optional<ListedHead> best;
  for (ObjectInfo& o : heads) {
    uint64_t n = 0;
    if (ParseHeadKey(o.key, &n) && (!best.has_value() || n > best->sequence)) {
      best = ListedHead{n, std::move(o)};
    }
  }
  return best;
}

absl::StatusOr<HeadRecord> ReadHead(ObjectStore* store, const ListedHead& listed,
                                    absl::Time deadline) {
  // The listing gives the size (a head is never empty), so reading it takes one request, not a
  // HEAD and a GET.
  uint64_t size = listed.info.size;
  if (size == 0) {
    ASSIGN_OR_RETURN(ObjectInfo info, store->Head(listed.info.key, deadline));
    size = info.size;
  }
  std::string text;
  RETURN_IF_ERROR(store->GetRange(listed.info.key, 0, size, &text, deadline));
  auto head = DecodeHead(text);
  if (!head.ok()) {
    return absl::DataLossError(
        absl::StrCat(store->Describe(), "/", listed.info.key, ": ", head.status().message()));
  }
  if (head->sequence != listed.sequence) {
    return absl::DataLossError(absl::StrCat(store->Describe(), "/", listed.info.key,
                                            " records sequence ", head->sequence));
  }
  return *std::move(head);
}

absl::StatusOr<std::optional<HeadRecord>> FindLatestHead(ObjectStore* store, absl::Time deadline) {
  ASSIGN_OR_RETURN(std::optional<ListedHead> listed, ListNewestHead(store, deadline));
  if (!listed.has_value()) return std::optional<HeadRecord>();
  ASSIGN_OR_RETURN(HeadRecord head, ReadHead(store, *listed, deadline));
  return std::optional<HeadRecord>(std::move(head));
}

namespace {

// The node's record of the last generation fetched from `store`: "last-<hash of the store's
// identity>". The record "last" is kept too, for older libraries of the node (which read it for
// whatever store they use).
std::string LastPath(const std::string& local_dir, const ObjectStore& store) {
  char hex[16];
  Hex64To(PathHash(store.Identity()), hex);
  return absl::StrCat(local_dir, "/last-", absl::string_view(hex, sizeof(hex)));
}
std::string LegacyLastPath(const std::string& local_dir) { return local_dir + "/last"; }
std::string LastHeadPath(const std::string& local_dir) { return local_dir + "/last-head"; }

// Whether `etag` can be kept in the note's one-line, space-separated format.
bool NotableEtag(absl::string_view etag) {
  return !etag.empty() && std::none_of(etag.begin(), etag.end(), [](char c) {
    return absl::ascii_isspace(static_cast<unsigned char>(c)) || absl::ascii_iscntrl(c);
  });
}

// Records `path` as current in `store` now. Best effort: a node that cannot record it only
// loses the offline fallback, and its processes ask the store themselves.
void RememberGeneration(const std::string& local_dir, const ObjectStore& store,
                        const std::string& path, uint64_t sequence, Env* env) {
  const std::string line = absl::StrCat(sequence, " ", path.substr(path.rfind('/') + 1), "\n");
  for (const std::string& record : {LastPath(local_dir, store), LegacyLastPath(local_dir)}) {
    absl::StatusOr<std::string> old = ReadFile(env, record);
    if (old.ok() && *old == line && env->SetTimes(record, absl::Now()).ok()) continue;
    WriteFileAtomic(env, record, line, /*durable=*/false).IgnoreError();
  }
}

}  // namespace

absl::StatusOr<std::string> FetchGeneration(ObjectStore* store, const HeadRecord& head,
                                            const std::string& local_dir, Env* env,
                                            absl::Time deadline) {
  Hash128 want;
  if (!HashOfIndexKey(head.index_key, &want)) {
    return absl::DataLossError(absl::StrCat("head names a bad index key '", head.index_key, "'"));
  }
  const std::string path = absl::StrCat(local_dir, "/", want.Hex(), ".mdb");
  struct stat st;
  if (env->Stat(path, &st).ok()) {
    absl::StatusOr<std::unique_ptr<IndexReader>> local = IndexReader::Open(path);
    if (local.ok()) {
      RememberGeneration(local_dir, *store, path, head.sequence, env);
      return path;
    }
    // Only a damaged copy is fetched again; a process that cannot open a good one (out of
    // address space, a newer format) would not fare better with a fresh copy.
    if (!absl::IsDataLoss(local.status())) return local.status();
  }
  if (absl::Status s = MakeDirs(env, local_dir, 0700); !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("cannot keep index generations in ", local_dir, ": ", s.message(),
                               "; set HFSHIM_CACHE_DIR to a writable directory"));
  }
  uint64_t size = head.index_bytes;
  if (size == 0) {
    ASSIGN_OR_RETURN(ObjectInfo info, store->Head(head.index_key, deadline));
    size = info.size;
  }
  absl::Status download;  // the store's answer, apart from the local file's errors
  absl::Status written = WriteFileAtomicWith(env, path, [&](int fd) {
    absl::StatusOr<Hash128> got = DownloadTo(store, head.index_key, size, env, fd, deadline);
    download = got.status();
    if (got.ok() && !(*got == want)) {
      download = absl::DataLossError(absl::StrCat(store->Describe(), "/", head.index_key,
                                                  " does not match its content hash; the store "
                                                  "is damaged: push again"));
    }
    return download;
  });
  if (!download.ok()) return download;
  if (!written.ok()) {
    return absl::Status(written.code(), absl::StrCat("write ", path, ": ", written.message()));
  }
  auto reader = IndexReader::Open(path);
  if (!reader.ok()) {
    // Bytes that match their content hash yet are not an index were pushed that way (the store
    // is damaged); other failures are this process's and leave the verified copy to others.
    if (absl::IsDataLoss(reader.status())) env->Unlink(path).IgnoreError();
    return reader.status();
  }
  RememberGeneration(local_dir, *store, path, head.sequence, env);
  return path;
}

void ForgetGenerationCheck(const std::string& local_dir, const ObjectStore& store, Env* env) {
  env->SetTimes(LastPath(local_dir, store), absl::UnixEpoch()).IgnoreError();
  env->SetTimes(LegacyLastPath(local_dir), absl::UnixEpoch()).IgnoreError();
}

absl::StatusOr<LocalGeneration> LastFetchedGeneration(const std::string& local_dir,
                                                      const ObjectStore& store, Env* env) {
  const std::string record = LastPath(local_dir, store);
  absl::StatusOr<std::string> line = ReadFile(env, record);
  if (!line.ok()) {
    return absl::NotFoundError(
        absl::StrCat("no generation of ", store.Describe(), " was fetched into ", local_dir));
  }
  std::vector<std::string> parts = absl::StrSplit(absl::StripTrailingAsciiWhitespace(*line), ' ');
  LocalGeneration g;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &g.sequence) ||
      parts[1].find('/') != std::string::npos) {
    return absl::NotFoundError(record + " is malformed");
  }
  g.path = local_dir + "/" + parts[1];
  struct stat st;
  if (!env->Stat(g.path, &st).ok()) return absl::NotFoundError(g.path + " is gone");
  if (env->Stat(record, &st).ok()) {
    g.checked_ago = absl::Now() - absl::TimeFromTimespec(st.st_mtim);
  }
  return g;
}

void RememberHeadRead(const std::string& local_dir, const ListedHead& listed,
                      const HeadRecord& head, Env* env) {
  if (!NotableEtag(listed.info.etag) || head.sequence != listed.sequence) {
    env->Unlink(LastHeadPath(local_dir)).IgnoreError();  // never leave a note for another head
    return;
  }
  WriteFileAtomic(env, LastHeadPath(local_dir),
                  absl::StrCat(head.sequence, " ", head.index_key, " ", listed.info.etag, "\n"),
                  /*durable=*/false)
      .IgnoreError();
}

std::optional<HeadRecord> HeadReadBefore(const std::string& local_dir, const ListedHead& listed,
                                         Env* env) {
  if (!NotableEtag(listed.info.etag)) return std::nullopt;
  absl::StatusOr<std::string> line = ReadFile(env, LastHeadPath(local_dir));
  if (!line.ok()) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(absl::StripTrailingAsciiWhitespace(*line), ' ');
  HeadRecord head;
  Hash128 unused;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &head.sequence) ||
      head.sequence != listed.sequence || parts[2] != listed.info.etag ||
      !HashOfIndexKey(parts[1], &unused)) {
    return std::nullopt;
  }
  head.index_key = std::move(parts[1]);
  return head;
}

absl::StatusOr<HeadCheck> CheckNewestHead(ObjectStore* store, const std::string& local_dir,
                                          Env* env, absl::Time deadline) {
  HeadCheck check;
  ASSIGN_OR_RETURN(check.listed, ListNewestHead(store, deadline));
  if (!check.listed.has_value()) return check;
  check.head = HeadReadBefore(local_dir, *check.listed, env);
  check.noted = check.head.has_value();
  if (!check.noted) {
    ASSIGN_OR_RETURN(check.head, ReadHead(store, *check.listed, deadline));
  }
  return check;
}

void NoteHeadChecked(const std::string& local_dir, const HeadCheck& check, Env* env) {
  if (check.noted || !check.listed.has_value() || !check.head.has_value()) return;
  RememberHeadRead(local_dir, *check.listed, *check.head, env);
}

}  // namespace hfshim
