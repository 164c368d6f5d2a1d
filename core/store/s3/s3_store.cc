#include "core/store/s3/s3_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/store/http/ranged_get.h"
#include "core/store/local_store.h"
#include "core/store/s3/s3_client.h"
#include "core/store/s3/s3_xml.h"

namespace hfshim {
namespace {

bool Ok2xx(const HttpResponse& r) { return r.status >= 200 && r.status < 300; }

class S3Store final : public ObjectStore {
 public:
  S3Store(S3Settings settings, const S3StoreOptions& options, Env* fs)
      : client_(std::move(settings), options.connect_timeout_seconds, options.ca_bundle),
        options_(options),
        fs_(fs) {}

  absl::Status GetRange(absl::string_view key, uint64_t offset, uint64_t length, std::string* out,
                        absl::Time deadline) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const std::string full = FullKey(key);
    if (length == 0) {  // no empty Range exists: check the object and its size instead
      ASSIGN_OR_RETURN(ObjectInfo info, Head(key, deadline));
      if (offset > info.size) {
        return absl::OutOfRangeError(absl::StrCat("offset ", offset, " is past ",
                                                  client_.Name(full), " (", info.size, " bytes)"));
      }
      out->clear();
      return absl::OkStatus();
    }
    return FetchInParts(
        offset, length, options_.get_part_size, options_.get_parallel,
        [&](uint64_t off, uint64_t len, std::string* buf) -> absl::Status {
          S3Call call;
          call.full_key = full;
          call.headers = {{"Range", RangeHeader(off, len)}};
          call.expected_body = len;
          ASSIGN_OR_RETURN(HttpResponse r, client_.Send(call, deadline));
          if (!Ok2xx(r)) return client_.Error(r, call);
          return TakeRange(&r, off, len, client_.Name(full), buf);
        },
        out);
  }

  // One ranged GET whose body goes straight into the sink.
  absl::Status GetRangeTo(absl::string_view key, uint64_t offset, uint64_t length, RangeSink* sink,
                          absl::Time deadline) override {
    if (length == 0) return ObjectStore::GetRangeTo(key, offset, length, sink, deadline);
    RETURN_IF_ERROR(ValidateKey(key));
    S3Call call;
    call.full_key = FullKey(key);
    call.headers = {{"Range", RangeHeader(offset, length)}};
    RangeFeeder feeder(offset, length, client_.Name(call.full_key), sink);
    call.on_body = feeder.BodyCallback();
    ASSIGN_OR_RETURN(HttpResponse r, client_.Send(call, deadline));
    if (!Ok2xx(r)) return client_.Error(r, call);
    return feeder.Finish(r);
  }

  absl::StatusOr<ObjectInfo> Head(absl::string_view key, absl::Time deadline) override {
    RETURN_IF_ERROR(ValidateKey(key));
    S3Call call;
    call.method = "HEAD";
    call.full_key = FullKey(key);
    ASSIGN_OR_RETURN(HttpResponse r, client_.Send(call, deadline));
    if (!Ok2xx(r)) return client_.Error(r, call);
    const std::string* cl = r.Header("content-length");
    uint64_t size = 0;
    if (cl == nullptr || !absl::SimpleAtoi(*cl, &size)) {
      return absl::UnavailableError(
          absl::StrCat("S3 HEAD ", client_.Name(call.full_key), ": no Content-Length"));
    }
    const std::string* etag = r.Header("etag");
    return ObjectInfo{std::string(key), size, etag != nullptr ? *etag : std::string()};
  }

  absl::Status Put(absl::string_view key, absl::string_view data, absl::Time deadline) override {
    RETURN_IF_ERROR(ValidateKey(key));
    return PutObject(FullKey(key), data, {}, deadline);
  }

  absl::Status PutFile(absl::string_view key, const std::string& local_path,
                       absl::Time deadline) override {
    RETURN_IF_ERROR(ValidateKey(key));
    return UploadFile(client_, fs_, local_path, FullKey(key), options_.upload, deadline);
  }

  absl::Status PutIfAbsent(absl::string_view key, absl::string_view data,
                           absl::Time deadline) override {
    RETURN_IF_ERROR(ValidateKey(key));
    const std::string full = FullKey(key);
    ASSIGN_OR_RETURN(bool honoured, HonoursConditionalPut(deadline));
    if (!honoured) {
      if (!options_.unsafe_put_if_absent) {
        return absl::FailedPreconditionError(absl::StrCat(
            Describe(), " does not honour conditional writes (If-None-Match: *): ",
            "concurrent pushers could overwrite each other's head and lose updates. Use an S3 "
            "server that supports conditional writes (AWS S3, MinIO), or set "
            "HFSHIM_S3_UNSAFE_PUT_IF_ABSENT=1 if only one pusher ever writes to this store"));
      }
      static std::atomic<bool> warned{false};
      LogOnce(&warned, LogLevel::kWarn,
              absl::StrCat(Describe(),
                           " ignores If-None-Match; emulating put-if-absent "
                           "with HEAD+PUT (HFSHIM_S3_UNSAFE_PUT_IF_ABSENT=1): "
                           "concurrent pushers may lose updates"));
      absl::StatusOr<ObjectInfo> existing = Head(key, deadline);
      if (existing.ok()) return AlreadyExists(full);
      if (!absl::IsNotFound(existing.status())) return existing.status();
      return PutObject(full, data, {}, deadline);
    }
    return PutObject(full, data, {{"If-None-Match", "*"}}, deadline);
  }

  absl::StatusOr<std::vector<ObjectInfo>> List(absl::string_view prefix,
                                               absl::Time deadline) override {
    const std::string& store_prefix = client_.settings().prefix;
    std::vector<ObjectInfo> out;
    std::string token;
    do {
      S3Call call;
      call.full_key = "";
      call.query = {{"list-type", "2"}, {"prefix", absl::StrCat(store_prefix, prefix)}};
      if (!token.empty()) call.query.emplace_back("continuation-token", token);
      ASSIGN_OR_RETURN(HttpResponse r, client_.Send(call, deadline));
      if (!Ok2xx(r)) return client_.Error(r, call);
      auto page = ParseListObjectsV2(r.body);
      if (!page.ok()) {
        return absl::UnavailableError(
            absl::StrCat("S3 list of ", Describe(), ": ", page.status().message()));
      }
      for (ObjectInfo& o : page->objects) {
        if (!absl::StartsWith(o.key, store_prefix)) continue;
        o.key.erase(0, store_prefix.size());
        if (absl::StartsWith(o.key, ".hfshim-probe/")) continue;
        out.push_back(std::move(o));
      }
      token = page->truncated ? page->next_token : "";
    } while (!token.empty());
    std::sort(out.begin(), out.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  std::string Describe() const override { return client_.settings().Describe(); }
  std::string Identity() const override {
    const S3Settings& s = client_.settings();
    return absl::StrCat(s.Describe(), " at ", s.scheme, "://", s.host);
  }

 private:
  std::string FullKey(absl::string_view key) const {
    return absl::StrCat(client_.settings().prefix, key);
  }

  absl::Status AlreadyExists(const std::string& full) const {
    return absl::AlreadyExistsError(absl::StrCat(client_.Name(full), " already exists"));
  }

  absl::Status PutObject(const std::string& full, absl::string_view data, HttpHeaders headers,
                         absl::Time deadline) {
    S3Call call;
    call.method = "PUT";
    call.full_key = full;
    call.body = data;
    call.headers = std::move(headers);
    ASSIGN_OR_RETURN(HttpResponse r, client_.Send(call, deadline));
    if (r.status == 412) return AlreadyExists(full);  // If-None-Match: * found the object
    return Ok2xx(r) ? absl::OkStatus() : client_.Error(r, call);
  }

  absl::Status Delete(const std::string& full, absl::Time deadline) {
    S3Call call;
    call.method = "DELETE";
    call.full_key = full;
    ASSIGN_OR_RETURN(HttpResponse r, client_.Send(call, deadline));
    return Ok2xx(r) ? absl::OkStatus() : client_.Error(r, call);
  }

  // Whether the server refuses a conditional PUT onto an existing object; checked once.
  absl::StatusOr<bool> HonoursConditionalPut(absl::Time deadline) {
    std::lock_guard<std::mutex> lock(probe_mu_);
    if (probe_result_ != 0) return probe_result_ > 0;
    const std::string probe = FullKey(absl::StrCat(".hfshim-probe/conditional-put-", getpid(), "-",
                                                   absl::ToUnixNanos(absl::Now())));
    RETURN_IF_ERROR(PutObject(probe, "first", {}, deadline));
    absl::Status s = PutObject(probe, "second", {{"If-None-Match", "*"}}, deadline);
    Delete(probe, deadline).IgnoreError();
    if (s.ok()) {
      probe_result_ = -1;  // it overwrote the probe
    } else if (absl::IsAlreadyExists(s)) {
      probe_result_ = 1;
    } else if (absl::IsUnimplemented(s) || absl::IsInvalidArgument(s) || absl::IsUnknown(s)) {
      probe_result_ = -1;  // e.g. 501 NotImplemented: the header is not supported
    } else {
      return s;  // a transport or permission problem: decide on a later call
    }
    if (probe_result_ < 0) {
      Log(LogLevel::kInfo, absl::StrCat(Describe(), " does not honour If-None-Match on PUT"));
    }
    return probe_result_ > 0;
  }

  S3Client client_;
  const S3StoreOptions options_;
  Env* const fs_;
  std::mutex probe_mu_;
  int probe_result_ = 0;  // 0 unknown, 1 honoured, -1 ignored; guarded by probe_mu_
};

}  // namespace

S3StoreOptions S3StoreOptionsFrom(const Config& config) {
  S3StoreOptions o;
  o.connect_timeout_seconds = config.connect_timeout_seconds;
  o.ca_bundle = CaBundleFromEnvironment();
  o.upload.parallel = std::clamp(config.threads, 1, 8);
  o.upload.retries = config.retries;
  o.get_parallel = std::clamp(config.threads, 1, 8);
  o.unsafe_put_if_absent = config.s3_unsafe_put_if_absent;
  return o;
}

absl::StatusOr<std::unique_ptr<ObjectStore>> NewS3Store(absl::string_view url, const Config& config,
                                                        const EnvLookup& env, Env* fs) {
  ASSIGN_OR_RETURN(S3Settings settings, ResolveS3Settings(url, config, env, fs));
  return NewS3StoreWith(std::move(settings), S3StoreOptionsFrom(config), fs);
}

std::unique_ptr<ObjectStore> NewS3StoreWith(S3Settings settings, const S3StoreOptions& options,
                                            Env* fs) {
  return std::make_unique<S3Store>(std::move(settings), options, fs);
}

}  // namespace hfshim
