#include "tools/cli/cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hfshim {

Config LoadConfigOrExit(const char* tool) {
  auto config = LoadConfig();
  if (!config.ok()) std::exit(ReportFailure(tool, config.status()));
  SetLogLevel(config->log_level);
  return *std::move(config);
}

int ReportFailure(const char* tool, const absl::Status& status) {
  std::cerr << tool << ": " << status.message() << "\n";
  return kExitFailure;
}

int ReportUsage(const char* tool, absl::string_view message) {
  std::cerr << tool << ": " << message << "\nTry '" << tool << " --help'.\n";
  return kExitUsage;
}

bool HandleCommonOption(const char* tool, absl::string_view arg, absl::string_view usage) {
  if (arg == "--help" || arg == "-h") {
    std::cout << usage << "\n" << SettingsHelp();
    return true;
  }
  if (arg == "--version") {
    std::cout << tool << " " << HFSHIM_VERSION << "\n";
    return true;
  }
  return false;
}

std::string NotARepoId(absl::string_view arg) {
  return absl::StrCat("'", arg, "' is not a repo id (e.g. org/name or datasets/org/name)");
}

absl::StatusOr<std::unique_ptr<ProfileReader>> ProfileReader::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::unique_ptr<ProfileReader> reader(new ProfileReader(path, fd));
  if (fd < 0) return reader->Failure(errno);
  struct stat st;
  if (fstat(fd, &st) != 0) return reader->Failure(errno);
  if (S_ISDIR(st.st_mode)) return reader->Failure(EISDIR);
  return reader;
}

ProfileReader::~ProfileReader() {
  if (fd_ >= 0) close(fd_);
}

absl::Status ProfileReader::ReadMore(std::string* text) {
  char buf[64 << 10];
  while (true) {
    const ssize_t n = read(fd_, buf, sizeof(buf));
    if (n == 0) return absl::OkStatus();
    if (n < 0) {
      if (errno == EINTR) continue;
      return Failure(errno);
    }
    text->append(buf, static_cast<size_t>(n));
  }
}

absl::Status ProfileReader::Failure(int err) const {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat("cannot read profile ", path_, ": ", strerror(err),
                                   err == EISDIR ? "; give the file that HFSHIM_PROFILE=FILE wrote"
                                                 : "; record one with HFSHIM_PROFILE=",
                                   err == EISDIR ? "" : path_));
}

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

std::string HumanBytes(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  return absl::StrFormat(u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
}

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), enabled_(isatty(2)), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(uint64_t files_done, uint64_t files_total, uint64_t bytes_done,
                         uint64_t bytes_total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && files_done < files_total && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;
  drawn_ = true;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? bytes_done / secs : 0;
  const double frac = bytes_total > 0   ? static_cast<double>(bytes_done) / bytes_total
                      : files_total > 0 ? static_cast<double>(files_done) / files_total
                                        : 1.0;
  const int width = 24;
  const int fill = static_cast<int>(frac * width);
  std::string bar = std::string(fill, '#') + std::string(width - fill, '.');
  std::string eta = "--";
  if (rate > 0 && bytes_total >= bytes_done) {
    const int left = static_cast<int>((bytes_total - bytes_done) / rate);
    eta = absl::StrFormat("%d:%02d", left / 60, left % 60);
  }
  std::string line = absl::StrFormat(
      "\r%s [%s] %3.0f%%  %d/%d files  %s/%s  %s/s  ETA %s ", label_, bar, frac * 100, files_done,
      files_total, HumanBytes(bytes_done), HumanBytes(bytes_total), HumanBytes(rate), eta);
  fputs(line.c_str(), stderr);
  fflush(stderr);
}

void ProgressBar::Finish() {
  if (enabled_ && drawn_) {
    fputs("\n", stderr);
    drawn_ = false;
  }
}

}  // namespace hfshim
