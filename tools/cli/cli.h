// Shared pieces of the hfshim-* command-line tools: configuration with clear errors, a terminal
// progress bar, JSON quoting and the common exit codes (0 ok, 1 failure, 2 usage error).
#ifndef HFSHIM_TOOLS_CLI_CLI_H_
#define HFSHIM_TOOLS_CLI_CLI_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/config/config.h"

namespace hfshim {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Loads the configuration; on an invalid HFSHIM_* value prints "<tool>: <why>" and exits 1
// (kExitFailure): a bad setting is a configuration failure, as a bad --store value is, not a
// usage error (exit 2 is for the command line only).
Config LoadConfigOrExit(const char* tool);

// Prints "<tool>: <message>" to stderr and returns kExitFailure.
int ReportFailure(const char* tool, const absl::Status& status);
// Prints "<tool>: <message>\nTry '<tool> --help'." and returns kExitUsage.
int ReportUsage(const char* tool, absl::string_view message);

// The options every tool takes. If `arg` is --help or -h, prints `usage` and the settings table
// on stdout; if it is --version, prints "<tool> <version>" (the project version). Returns true
// when `arg` was one of them: the tool then exits with kExitOk. `usage` lists --version as
// "  --version  print the version and exit".
bool HandleCommonOption(const char* tool, absl::string_view arg, absl::string_view usage);

// The usage error for an argument that is not a repo id (DirForRepoId rejected it):
// "'<arg>' is not a repo id (e.g. org/name or datasets/org/name)".
std::string NotARepoId(absl::string_view arg);

// An access profile written with HFSHIM_PROFILE, open for reading: a regular file (which may
// still grow) or a pipe. Errors name the file, the reason and the fix: "cannot read profile F:
// No such file or directory; record one with HFSHIM_PROFILE=F".
class ProfileReader {
 public:
  static absl::StatusOr<std::unique_ptr<ProfileReader>> Open(const std::string& path);
  ~ProfileReader();
  ProfileReader(const ProfileReader&) = delete;
  ProfileReader& operator=(const ProfileReader&) = delete;

  // Appends to *text what was written since the last call (everything, the first time).
  absl::Status ReadMore(std::string* text);

 private:
  ProfileReader(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  absl::Status Failure(int err) const;
  std::string path_;
  int fd_;
};

// JSON string literal of `s` (quotes included; control characters escaped).
std::string JsonQuote(absl::string_view s);

// "1.5 GB", "300 kB": decimal units, as transfer rates are usually shown.
std::string HumanBytes(double bytes);

// A one-line progress bar on stderr: files, bytes, rate and ETA, redrawn at most 10 times a
// second, and only when stderr is a terminal (scripts and CI logs stay clean).
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();  // finishes the line
  void Update(uint64_t files_done, uint64_t files_total, uint64_t bytes_done, uint64_t bytes_total);
  void Finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace hfshim

#endif  // HFSHIM_TOOLS_CLI_CLI_H_
