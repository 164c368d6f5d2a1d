// The settings table: one row per HFSHIM_* variable. Adding a setting means adding a field to
// Config and one row here; --help, README.md and validation all follow from the row.
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/config/config.h"
#include "core/config/parse.h"

namespace hfshim {
namespace {

std::string HomeDir(const EnvLookup& env) {
  if (const char* home = env("HOME"); home && *home) return home;
  if (passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return "/";
}

// Expands a leading "~" and makes a relative path absolute against the working directory.
std::string Absolute(std::string path, const EnvLookup& env) {
  if (path == "~" || absl::StartsWith(path, "~/")) path = HomeDir(env) + path.substr(1);
  // A path still starting with '~' only comes from the documentation's placeholder HOME.
  if (!path.empty() && path[0] != '/' && path[0] != '~') {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) path = absl::StrCat(cwd, "/", path);
  }
  std::string out;
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;  // "a//b" -> "a/b"
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string XdgDir(const EnvLookup& env, const char* var, const char* fallback_under_home) {
  if (const char* v = env(var); v && *v == '/') return v;
  return absl::StrCat(HomeDir(env), "/", fallback_under_home);
}

// One row of the table. `parse` stores a valid value into Config and returns false otherwise.
struct Setting {
  const char* name;
  std::string (*default_value)(const EnvLookup& env);
  const char* unit;
  const char* accepted;  // what the validator accepts, for the error line
  const char* help;
  bool (*parse)(absl::string_view text, const EnvLookup& env, Config* config);
};

std::string Fixed(const char* text) { return text; }

#define FIXED_DEFAULT(text) [](const EnvLookup&) { return Fixed(text); }

const Setting kSettings[] = {
    {"HFSHIM_STORE",
     [](const EnvLookup& env) {
       return absl::StrCat("file://", XdgDir(env, "XDG_DATA_HOME", ".local/share"),
                           "/hfshim/store");
     },
     "URL", "file:///DIR, s3://BUCKET[/PREFIX], http(s)://HOST/PATH, or a comma-separated list",
     "Object store holding pushed hub caches. A comma-separated list reads from the first store "
     "that has an object (mirror first, origin last).",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       for (absl::string_view url : absl::StrSplit(v, ',')) {
         if (!(absl::StartsWith(url, "file:///") || absl::StartsWith(url, "s3://") ||
               absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://"))) {
           return false;
         }
       }
       c->store_url = std::string(v);
       return true;
     }},
    {"HFSHIM_CACHE_DIR",
     [](const EnvLookup& env) { return XdgDir(env, "XDG_CACHE_HOME", ".cache") + "/hfshim"; },
     "paths", "absolute directories separated by ':'",
     "Node disk cache directories (absolute, separated by ':'); content is spread over them by "
     "hash.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       std::vector<std::string> dirs;
       for (absl::string_view d : absl::StrSplit(v, ':', absl::SkipEmpty())) {
         if (!absl::StartsWith(d, "/")) return false;
         std::string dir(d);
         while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
         dirs.push_back(dir);
       }
       if (dirs.empty()) return false;
       c->cache_dirs = std::move(dirs);
       return true;
     }},
    {"HFSHIM_CACHE_SIZE", FIXED_DEFAULT("100G"), "bytes", "a size such as 500M, 100G or 2T",
     "Upper limit of the node disk cache over all cache directories; least recently used content "
     "is evicted beyond it.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       return ParseBytes(v, &c->cache_size_bytes);
     }},
    {"HFSHIM_FREE_RATIO", FIXED_DEFAULT("0.1"), "ratio", "a number from 0 to 0.9",
     "Keep at least this fraction of each cache file system free.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       double r;
       if (!ParseSeconds(v, &r) || r > 0.9) return false;
       c->free_ratio = r;
       return true;
     }},
    {"HFSHIM_BUFFER_SIZE", FIXED_DEFAULT("64M"), "bytes", "a size of at least 1M, such as 64M",
     "Per-process memory buffer for blocks in flight and read ahead.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       uint64_t b;
       if (!ParseBytes(v, &b) || b < (1u << 20)) return false;
       c->buffer_size_bytes = b;
       return true;
     }},
    {"HFSHIM_BLOCK_SIZE", FIXED_DEFAULT("4M"), "bytes", "a power of two from 64K to 64M",
     "Unit of ranged GETs, checksums and readahead. Fixed per pushed file (push records it).",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       uint64_t b;
       if (!ParseBytes(v, &b) || b < (64u << 10) || b > (64u << 20) || (b & (b - 1)) != 0) {
         return false;
       }
       c->block_size_bytes = b;
       return true;
     }},
    {"HFSHIM_PACK_THRESHOLD", FIXED_DEFAULT("1M"), "bytes", "a size up to 64M, such as 1M",
     "hfshim-push packs files smaller than this into shared pack objects.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       uint64_t b;
       if (!ParseBytes(v, &b) || b > (64u << 20)) return false;
       c->pack_threshold_bytes = b;
       return true;
     }},
    {"HFSHIM_PREFIX", [](const EnvLookup& env) { return DefaultHubCachePath(env); }, "path",
     "an absolute path",
     "Where the virtual hub cache appears. Default: the hub cache path huggingface_hub uses "
     "(HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, "
     "~/.cache/huggingface/hub).",
     [](absl::string_view v, const EnvLookup& env, Config* c) {
       // Relative would mean a different directory in every process that changed directory.
       if (v.empty() || (v[0] != '/' && v[0] != '~')) return false;
       c->prefix = Absolute(std::string(v), env);
       return true;
     }},
    {"HFSHIM_REFRESH", FIXED_DEFAULT("30"), "seconds", "a number of seconds >= 0",
     "How often the store is checked for a newer index generation (0: on every open); a "
     "process started within this time of another's check on the node uses its answer.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       return ParseSeconds(v, &c->refresh_seconds);
     }},
    {"HFSHIM_LOG", FIXED_DEFAULT("warn"), "level", "error, warn, info or debug",
     "Which hfshim: lines go to stderr: error, warn, info or debug.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       if (v == "error")
         c->log_level = LogLevel::kError;
       else if (v == "warn")
         c->log_level = LogLevel::kWarn;
       else if (v == "info")
         c->log_level = LogLevel::kInfo;
       else if (v == "debug")
         c->log_level = LogLevel::kDebug;
       else
         return false;
       return true;
     }},
    {"HFSHIM_TIMEOUT", FIXED_DEFAULT("60"), "seconds", "a number of seconds > 0",
     "Total deadline of one store request, retries included.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       return ParseSeconds(v, &c->timeout_seconds) && c->timeout_seconds > 0;
     }},
    {"HFSHIM_CONNECT_TIMEOUT", FIXED_DEFAULT("5"), "seconds", "a number of seconds > 0",
     "Deadline for connecting to a store endpoint.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       return ParseSeconds(v, &c->connect_timeout_seconds) && c->connect_timeout_seconds > 0;
     }},
    {"HFSHIM_RETRIES", FIXED_DEFAULT("4"), "count", "a whole number from 0 to 20",
     "Retries of a failed store request (5xx, throttling, resets, timeouts; never 403/404).",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       return ParseInt(v, 0, 20, &c->retries);
     }},
    {"HFSHIM_THREADS", FIXED_DEFAULT("8"), "count", "a whole number from 1 to 256",
     "Parallel transfers for push, warm, readahead and pack window prefetch.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       return ParseInt(v, 1, 256, &c->threads);
     }},
    {"HFSHIM_DISABLE", FIXED_DEFAULT("0"), "bool", "0 or 1",
     "1: libhfshim.so passes every call straight through.",
     [](absl::string_view v, const EnvLookup&, Config* c) { return ParseBool(v, &c->disable); }},
    {"HFSHIM_S3_ENDPOINT", FIXED_DEFAULT(""), "URL", "an http:// or https:// URL",
     "S3 endpoint (MinIO, Ceph RGW, ...). Default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       if (!v.empty() && !absl::StartsWith(v, "http://") && !absl::StartsWith(v, "https://"))
         return false;
       c->s3_endpoint = std::string(v);
       return true;
     }},
    {"HFSHIM_S3_ADDRESSING", FIXED_DEFAULT("auto"), "mode", "auto, path or virtual",
     "S3 bucket addressing: virtual-host style, path style, or auto (path style for custom "
     "endpoints and bucket names that are not DNS-safe).",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       if (v != "auto" && v != "path" && v != "virtual") return false;
       c->s3_addressing = std::string(v);
       return true;
     }},
    {"HFSHIM_S3_ANONYMOUS", FIXED_DEFAULT("0"), "bool", "0 or 1",
     "1: send unsigned S3 requests (public buckets).",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       return ParseBool(v, &c->s3_anonymous);
     }},
    {"HFSHIM_S3_UNSAFE_PUT_IF_ABSENT", FIXED_DEFAULT("0"), "bool", "0 or 1",
     "1: on an S3 server that ignores If-None-Match (e.g. s3rver), emulate put-if-absent with "
     "HEAD then PUT. Two pushers at the same moment can then lose one push: only for stores with "
     "a single pusher. 0: such a store refuses to publish heads.",
     [](absl::string_view v, const EnvLookup&, Config* c) {
       return ParseBool(v, &c->s3_unsafe_put_if_absent);
     }},
    {"HFSHIM_STATS", FIXED_DEFAULT("1"), "bool", "0 or 1",
     "Keep live counters in shared memory for hfshim-stat.",
     [](absl::string_view v, const EnvLookup&, Config* c) { return ParseBool(v, &c->stats); }},
    {"HFSHIM_PROFILE", FIXED_DEFAULT(""), "path", "a file path",
     "Append every virtual operation (time, op, path, bytes, latency) to this file.",
     [](absl::string_view v, const EnvLookup& env, Config* c) {
       c->profile_path = v.empty() ? "" : Absolute(std::string(v), env);
       return true;
     }},
};

#undef FIXED_DEFAULT

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

std::string DefaultHubCachePath(const EnvLookup& env) {
  for (const char* var : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"}) {
    if (const char* v = env(var); v && *v) return Absolute(v, env);
  }
  std::string hf_home;
  if (const char* v = env("HF_HOME"); v && *v) {
    hf_home = v;
  } else if (const char* xdg = env("XDG_CACHE_HOME"); xdg && *xdg) {
    hf_home = absl::StrCat(xdg, "/huggingface");
  } else {
    hf_home = "~/.cache/huggingface";
  }
  return Absolute(hf_home + "/hub", env);
}

absl::StatusOr<Config> LoadConfig(const EnvLookup& env) {
  Config config;
  for (const Setting& s : kSettings) {
    const char* set = env(s.name);
    std::string text = set ? std::string(set) : s.default_value(env);
    if (!s.parse(text, env, &config)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s=\"%s\" is not valid; use %s", s.name, set ? set : text, s.accepted));
    }
  }
  return config;
}

std::string SettingsHelp() {
  const EnvLookup env = ProcessEnvironment();
  std::string out = "Settings (environment variables):\n";
  for (const Setting& s : kSettings) {
    absl::StrAppendFormat(&out, "  %-24s %s (default: %s)\n      %s\n", s.name, s.unit,
                          s.default_value(env).empty() ? "unset" : s.default_value(env), s.help);
  }
  return out;
}

std::string SettingsMarkdown() {
  std::string out = "| Variable | Default | Unit | Meaning |\n|---|---|---|---|\n";
  for (const Setting& s : kSettings) {
    // Documented defaults are shown relative to a placeholder home, not this machine's.
    std::string def = s.default_value([](const char* name) -> const char* {
      return absl::string_view(name) == "HOME" ? "~" : nullptr;
    });
    absl::StrAppendFormat(&out, "| `%s` | %s | %s | %s |\n", s.name,
                          def.empty() ? "unset" : absl::StrCat("`", def, "`"), s.unit, s.help);
  }
  return out;
}

}  // namespace hfshim
