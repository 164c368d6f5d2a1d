// ObjectStore: the narrow interface to where pushed content lives (a local directory, an S3
// bucket, a read-only HTTP mirror). Behaviour such as retries, fallback and fault injection is
// added by wrapping one store in another, never by flags.
//
// Keys are relative '/'-separated names without "." or ".." components ("packs/ab12...",
// "heads/00000000000000000007"). Every call carries a deadline and returns within it.
// Implementations are thread-safe; after fork() the child must not reuse connections made by the
// parent (implementations reset them in a fork handler).
#ifndef HFSHIM_CORE_STORE_OBJECT_STORE_H_
#define HFSHIM_CORE_STORE_OBJECT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/config/config.h"
#include "core/store/range_sink.h"

namespace hfshim {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  // A tag that changes whenever the object's bytes do, as the store reports it (S3's ETag, an
  // HTTP server's ETag header, a local file's mtime, size and inode); empty if it has none.
  // Opaque: compare tags only with tags the same store gave.
  std::string etag;
};

class ObjectStore {
 public:
  ObjectStore() = default;
  ObjectStore(const ObjectStore&) = delete;
  ObjectStore& operator=(const ObjectStore&) = delete;
  virtual ~ObjectStore() = default;

  // Reads bytes [offset, offset + length) of `key` into *out (replacing its contents).
  // Guarantees: on OK, out->size() == length exactly (a short body is an error, never returned).
  // NotFound if the object does not exist; OutOfRange if the range ends past the object.
  virtual absl::Status GetRange(absl::string_view key, uint64_t offset, uint64_t length,
                                std::string* out, absl::Time deadline) = 0;

  // The same bytes, streamed into `sink` as they arrive (large ranges without a buffer of their
  // size). Requires: the sink expects exactly `length` bytes from `offset`. Guarantees: on OK
  // the sink was fed exactly `length` bytes in order; on error it may have been fed a prefix
  // (a store that reads the range again first calls sink->Rewind() and resumes where it says).
  // Errors as GetRange, and the sink's. The default reads with GetRange and copies.
  virtual absl::Status GetRangeTo(absl::string_view key, uint64_t offset, uint64_t length,
                                  RangeSink* sink, absl::Time deadline);

  // Size of `key`; NotFound if absent.
  virtual absl::StatusOr<ObjectInfo> Head(absl::string_view key, absl::Time deadline) = 0;

  // Creates or replaces `key` with `data`. Atomic: readers see the old object or the new one.
  virtual absl::Status Put(absl::string_view key, absl::string_view data, absl::Time deadline) = 0;

  // Like Put, with the content streamed from a local file (large objects; multipart on S3).
  virtual absl::Status PutFile(absl::string_view key, const std::string& local_path,
                               absl::Time deadline) = 0;

  // Creates `key` only if it does not exist, atomically across processes and nodes.
  // AlreadyExists if it does. FailedPrecondition if the store cannot guarantee atomicity.
  virtual absl::Status PutIfAbsent(absl::string_view key, absl::string_view data,
                                   absl::Time deadline) = 0;

  // Every object whose key starts with `prefix`, in key order. No delimiter semantics.
  virtual absl::StatusOr<std::vector<ObjectInfo>> List(absl::string_view prefix,
                                                       absl::Time deadline) = 0;

  // Makes a store that does not exist yet ready for its first push: a file:// store creates its
  // directory (reading one that does not exist is an error, not an empty store: a typo or an
  // unmounted file system must not look like "nothing pushed"). Buckets are their owner's to
  // create: a no-op elsewhere. Called by pushers only.
  virtual absl::Status EnsureCreated(absl::Time deadline) { return absl::OkStatus(); }

  // A description for messages: the URL without credentials.
  virtual std::string Describe() const = 0;

  // What tells this store from any other a node may use (records the node keeps per store, such
  // as the last generation it fetched, are filed under it): Describe(), plus what Describe leaves
  // out but tells stores apart (an S3 endpoint).
  virtual std::string Identity() const { return Describe(); }
};

// Opens the store named by `url` ("file:///dir", "s3://bucket/prefix", "http(s)://...", or a
// comma-separated fallback list), with retries and deadlines from `config`.
// InvalidArgument names the URL and what is accepted. Opening does no network I/O.
absl::StatusOr<std::unique_ptr<ObjectStore>> OpenStore(absl::string_view url, const Config& config);

// The deadline for one request under `config` (now + HFSHIM_TIMEOUT).
absl::Time RequestDeadline(const Config& config);

}  // namespace hfshim

#endif  // HFSHIM_CORE_STORE_OBJECT_STORE_H_
