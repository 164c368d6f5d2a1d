// hfshim's settings: every knob is an HFSHIM_* environment variable described by one row of the
// table in settings.cc (name, default, unit, help, parser). LoadConfig() reads them all, validates
// them and fills a Config; --help of every tool prints the same table with SettingsHelp().
//
// Thread-safety: Config is a plain value. LoadConfig() only reads the environment it is given.
#ifndef HFSHIM_CORE_CONFIG_CONFIG_H_
#define HFSHIM_CORE_CONFIG_CONFIG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/log.h"

namespace hfshim {

struct Config {
  // Store URL(s): file:///dir, s3://bucket/prefix, http(s)://host/path; comma-separated = fallback
  // list, first has priority.
  std::string store_url;
  std::vector<std::string> cache_dirs;  // absolute paths, at least one
  uint64_t cache_size_bytes = 0;        // disk cache limit over all cache_dirs
  double free_ratio = 0.1;              // keep this fraction of each cache file system free
  uint64_t buffer_size_bytes = 0;       // per-process memory buffer for blocks in flight
  uint64_t block_size_bytes = 0;        // power of two, 64 KiB .. 64 MiB
  uint64_t pack_threshold_bytes = 0;    // push packs files smaller than this
  std::string prefix;                   // absolute path of the virtual hub cache (not realpath'd)
  double refresh_seconds = 30;          // 0 = check on every open (tests)
  LogLevel log_level = LogLevel::kWarn;
  double timeout_seconds = 60;  // total deadline of one store request
  double connect_timeout_seconds = 5;
  int retries = 4;                       // retries after the first attempt of a store request
  int threads = 8;                       // parallel transfers (push, warm, readahead)
  bool disable = false;                  // HFSHIM_DISABLE=1: the shim passes everything through
  std::string s3_endpoint;               // empty = AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS
  std::string s3_addressing = "auto";    // auto | path | virtual
  bool s3_anonymous = false;             // unsigned requests for public buckets
  bool s3_unsafe_put_if_absent = false;  // emulate put-if-absent where If-None-Match is ignored
  std::string profile_path;              // HFSHIM_PROFILE: append an access profile here
  bool stats = true;                     // HFSHIM_STATS: shared-memory counters for hfshim-stat
};

// Where the node keeps index generations fetched from the store: <first cache dir>/index.
inline std::string NodeIndexDir(const Config& config) { return config.cache_dirs[0] + "/index"; }

// Looks up an environment variable; nullptr when unset. The default reads the process environment.
using EnvLookup = std::function<const char*(const char*)>;
EnvLookup ProcessEnvironment();

// Reads and validates every HFSHIM_* setting. On the first invalid value returns InvalidArgument
// with one line naming the variable, the value and what is accepted, e.g.
//   HFSHIM_CACHE_SIZE="12Q" is not a size; use a number with an optional K, M, G or T suffix
absl::StatusOr<Config> LoadConfig(const EnvLookup& env = ProcessEnvironment());

// The hub cache path exactly as huggingface_hub resolves it (HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE,
// $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub), made absolute.
std::string DefaultHubCachePath(const EnvLookup& env = ProcessEnvironment());

// The settings table as text for --help: name, default, unit and help of every setting.
std::string SettingsHelp();

// The settings table as a Markdown table (README.md embeds it; a test keeps them in sync).
std::string SettingsMarkdown();

}  // namespace hfshim

#endif  // HFSHIM_CORE_CONFIG_CONFIG_H_
