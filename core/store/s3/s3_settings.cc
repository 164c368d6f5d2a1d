#include "core/store/s3/s3_settings.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/status_macros.h"
#include "core/env/file_util.h"

namespace hfshim {
namespace {

using IniSection = std::map<std::string, std::string>;

// The `key = value` lines of section [name] of an AWS ini file; nullopt-like empty + false.
bool ReadIniSection(Env* fs, const std::string& path, absl::string_view section, IniSection* out) {
  auto text = ReadFile(fs, path);
  if (!text.ok()) return false;
  bool in = false;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      absl::string_view name = absl::StripAsciiWhitespace(line.substr(1, line.size() - 2));
      in = name == section;
      found = found || in;
      continue;
    }
    if (!in) continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    (*out)[std::string(absl::StripAsciiWhitespace(line.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(line.substr(eq + 1)));
  }
  return found;
}

std::string Get(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  return v ? std::string(v) : std::string();
}

std::string HomeOf(const EnvLookup& env) {
  std::string home = Get(env, "HOME");
  return home.empty() ? "/root" : home;
}

bool DnsSafeBucket(absl::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
  }
  return b.front() != '-' && b.back() != '-';
}

}  // namespace

std::string S3Settings::Describe() const {
  std::string p = prefix;
  if (!p.empty()) p.pop_back();
  return p.empty() ? absl::StrCat("s3://", bucket) : absl::StrCat("s3://", bucket, "/", p);
}

std::string S3Settings::RequestHost() const {
  return path_style ? host : absl::StrCat(bucket, ".", host);
}

std::string S3Settings::RequestPath(absl::string_view full_key) const {
  const std::string key = UriEncode(full_key, /*encode_slash=*/false);
  if (path_style) return absl::StrCat("/", bucket, full_key.empty() ? "" : "/", key);
  return absl::StrCat("/", key);
}

absl::StatusOr<S3Settings> ResolveS3Settings(absl::string_view url, const Config& config,
                                             const EnvLookup& env, Env* fs) {
  S3Settings s;
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "s3://") || rest.empty() || rest.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("store URL '", url, "' is not s3://BUCKET[/PREFIX]"));
  }
  const size_t slash = rest.find('/');
  s.bucket = std::string(rest.substr(0, slash));
  if (slash != absl::string_view::npos) {
    absl::string_view p = rest.substr(slash + 1);
    while (absl::ConsumeSuffix(&p, "/")) {
    }
    if (!p.empty()) s.prefix = absl::StrCat(p, "/");
  }
  for (char c : s.bucket) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_')) {
      return absl::InvalidArgumentError(
          absl::StrCat("store URL '", url, "': '", s.bucket, "' is not a valid bucket name"));
    }
  }

  // The profile: credentials file section [name], config file section [profile name]/[default].
  const std::string profile_env = Get(env, "AWS_PROFILE");
  const std::string profile = profile_env.empty() ? "default" : profile_env;
  std::string cred_file = Get(env, "AWS_SHARED_CREDENTIALS_FILE");
  if (cred_file.empty()) cred_file = HomeOf(env) + "/.aws/credentials";
  std::string config_file = Get(env, "AWS_CONFIG_FILE");
  if (config_file.empty()) config_file = HomeOf(env) + "/.aws/config";
  IniSection in_creds, in_config;
  const bool have_creds_section = ReadIniSection(fs, cred_file, profile, &in_creds);
  const bool have_config_section = ReadIniSection(
      fs, config_file, profile == "default" ? "default" : "profile " + profile, &in_config);

  s.region = Get(env, "AWS_REGION");
  if (s.region.empty()) s.region = Get(env, "AWS_DEFAULT_REGION");
  if (s.region.empty()) s.region = in_config["region"];
  if (s.region.empty()) s.region = "us-east-1";

  std::string endpoint = config.s3_endpoint;
  if (endpoint.empty()) endpoint = Get(env, "AWS_ENDPOINT_URL_S3");
  if (endpoint.empty()) endpoint = Get(env, "AWS_ENDPOINT_URL");
  s.custom_endpoint = !endpoint.empty();
  if (endpoint.empty()) endpoint = absl::StrCat("https://s3.", s.region, ".amazonaws.com");
  absl::string_view ep = endpoint;
  if (absl::ConsumePrefix(&ep, "https://")) {
    s.scheme = "https";
  } else if (absl::ConsumePrefix(&ep, "http://")) {
    s.scheme = "http";
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 endpoint '", endpoint, "' must start with http:// or https://"));
  }
  while (absl::ConsumeSuffix(&ep, "/")) {
  }
  if (ep.empty() || ep.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 endpoint '", endpoint, "' must be scheme://host[:port] without a path"));
  }
  s.host = std::string(ep);

  const std::string& mode = config.s3_addressing;
  if (mode == "path") {
    s.path_style = true;
  } else if (mode == "virtual") {
    s.path_style = false;
  } else {  // auto: virtual-host style only where it is known to work
    s.path_style = s.custom_endpoint || !DnsSafeBucket(s.bucket);
  }

  s.anonymous = config.s3_anonymous;
  if (s.anonymous) {
    s.credentials_source = "none (HFSHIM_S3_ANONYMOUS=1)";
    return s;
  }
  const std::string key = Get(env, "AWS_ACCESS_KEY_ID");
  const std::string secret = Get(env, "AWS_SECRET_ACCESS_KEY");
  if (!key.empty() && !secret.empty()) {
    s.credentials = {key, secret, Get(env, "AWS_SESSION_TOKEN")};
    s.credentials_source = "the environment (AWS_ACCESS_KEY_ID)";
    return s;
  }
  for (auto* section : {&in_creds, &in_config}) {
    const std::string& k = (*section)["aws_access_key_id"];
    const std::string& v = (*section)["aws_secret_access_key"];
    if (!k.empty() && !v.empty()) {
      s.credentials = {k, v, (*section)["aws_session_token"]};
      s.credentials_source = absl::StrCat("profile '", profile, "' in ",
                                          section == &in_creds ? cred_file : config_file);
      return s;
    }
  }
  if (!profile_env.empty() && !have_creds_section && !have_config_section) {
    return absl::FailedPreconditionError(
        absl::StrCat("AWS_PROFILE='", profile, "' names a profile found in neither ", cred_file,
                     " nor ", config_file, "; fix AWS_PROFILE or add the profile"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no AWS credentials for ", s.Describe(),
                   ": looked at AWS_ACCESS_KEY_ID/"
                   "AWS_SECRET_ACCESS_KEY and profile '",
                   profile, "' in ", cred_file, " and ", config_file,
                   "; set them, or HFSHIM_S3_ANONYMOUS=1 for a public bucket"));
}

}  // namespace hfshim
