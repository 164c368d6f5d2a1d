// hfshim-stat: live counters of every shimmed process of this user, and access profiles.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/config/config.h"
#include "core/stats/segment.h"
#include "tools/cli/cli.h"
#include "tools/stat/profile_summary.h"
#include "tools/stat/stat_render.h"

namespace hfshim {
namespace {

constexpr char kUsage[] =
    "Usage: hfshim-stat [--once] [--interval SECONDS] [--pid PID]... [--json | --prometheus]\n"
    "       hfshim-stat [--prometheus] --listen ADDR:PORT [--pid PID]...\n"
    "       hfshim-stat --profile FILE [--top N] [--once] [--interval SECONDS] [--json]\n"
    "\n"
    "Shows the live counters of every process running with libhfshim.so (this user's), refreshed\n"
    "every second like top: virtual opens/stats/listings, cache hit rate, bytes from the disk\n"
    "cache and from the store, fetches in flight, errors, index generation.\n"
    "\n"
    "  --once             print one snapshot (totals since each process started) and exit\n"
    "  --interval S       refresh period in seconds (default 1)\n"
    "  --pid PID          only this process (repeatable)\n"
    "  --json             one JSON snapshot on stdout\n"
    "  --prometheus       Prometheus text exposition format on stdout\n"
    "  --listen ADDR:PORT serve the Prometheus format over HTTP (GET /metrics) until stopped\n"
    "  --profile FILE     summarise an access profile written with HFSHIM_PROFILE=FILE (top\n"
    "                     repos and paths, latency percentiles); follows the file as it grows\n"
    "                     unless --once\n"
    "  --top N            rows in the profile's top lists (default 10)\n"
    "  --version          print the version and exit\n"
    "\n"
    "Options outside these three forms cannot be combined (usage error).\n"
    "Segments live in $XDG_RUNTIME_DIR/hfshim/stats or /dev/shm/hfshim-<uid> (both are read\n"
    "when XDG_RUNTIME_DIR is unset or /run/user/<uid>); those of exited\n"
    "processes are removed. Exit status: 0 ok, 1 failure (also: a --pid that is not a shimmed\n"
    "process), 2 usage error.\n";

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

constexpr char kTool[] = "hfshim-stat";

struct Options {
  bool once = false;
  double interval = 1;
  bool interval_given = false;
  std::vector<uint32_t> pids;
  bool json = false;
  bool prometheus = false;
  std::string listen;
  std::string profile;
  size_t top = 10;
  bool top_given = false;
};

int Usage(const std::string& error) { return ReportUsage(kTool, error); }

// The usage error of options that the chosen form (see kUsage) would ignore or that exclude each
// other, e.g. "--listen cannot be combined with --json"; empty if the options fit one form.
std::string ConflictOf(const Options& o) {
  const std::pair<bool, const char*> with_profile[] = {
      {o.prometheus, "--prometheus"}, {!o.pids.empty(), "--pid"}, {!o.listen.empty(), "--listen"}};
  const std::pair<bool, const char*> with_listen[] = {
      {o.json, "--json"}, {o.once, "--once"}, {o.interval_given, "--interval"}};
  if (!o.profile.empty()) {
    for (const auto& [given, name] : with_profile) {
      if (given) {
        return absl::StrCat("--profile cannot be combined with ", name,
                            ": it summarises a file, not live processes");
      }
    }
  }
  if (!o.listen.empty()) {
    for (const auto& [given, name] : with_listen) {
      if (given) {
        return absl::StrCat("--listen cannot be combined with ", name,
                            ": it serves the Prometheus format on each request until stopped");
      }
    }
  }
  if (o.top_given && o.profile.empty()) return "--top applies only to --profile FILE";
  if (o.json && o.prometheus) return "--json cannot be combined with --prometheus; choose one";
  return "";
}

// Fails naming the --pid values of `o` that no snapshot in `found` has:
// "no shimmed process 123 (is it running with LD_PRELOAD=libhfshim.so?)".
absl::Status CheckPidsFound(const Options& o, const std::vector<SegmentSnapshot>& found) {
  std::vector<uint32_t> missing;
  for (uint32_t pid : o.pids) {
    const bool seen = std::any_of(found.begin(), found.end(),
                                  [&](const SegmentSnapshot& s) { return s.pid == pid; });
    if (!seen && std::find(missing.begin(), missing.end(), pid) == missing.end()) {
      missing.push_back(pid);
    }
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::NotFoundError(
      absl::StrCat(missing.size() == 1 ? "no shimmed process " : "no shimmed processes ",
                   absl::StrJoin(missing, ", "),
                   missing.size() == 1 ? " (is it running with LD_PRELOAD=libhfshim.so?)"
                                       : " (are they running with LD_PRELOAD=libhfshim.so?)"));
}

std::vector<SegmentSnapshot> Snapshot(const Options& o, bool* ok) {
  absl::StatusOr<std::vector<SegmentSnapshot>> all;
  for (const std::string& dir : StatsDirsToRead()) {
    auto some = ReadSegments(dir, /*remove_stale=*/true);
    if (!some.ok()) {
      std::cerr << "hfshim-stat: " << some.status().message() << "\n";
      *ok = false;
      return {};
    }
    if (!all.ok() || all->empty()) {
      all = std::move(some);
    } else {
      all->insert(all->end(), some->begin(), some->end());
    }
  }
  std::sort(all->begin(), all->end(),
            [](const SegmentSnapshot& a, const SegmentSnapshot& b) { return a.pid < b.pid; });
  all->erase(std::unique(
                 all->begin(), all->end(),  // one directory reached by two names
                 [](const SegmentSnapshot& a, const SegmentSnapshot& b) { return a.pid == b.pid; }),
             all->end());
  *ok = true;
  if (o.pids.empty()) return *std::move(all);
  std::vector<SegmentSnapshot> out;
  for (auto& s : *all) {
    if (std::find(o.pids.begin(), o.pids.end(), s.pid) != o.pids.end()) out.push_back(s);
  }
  return out;
}

int ServePrometheus(const Options& o) {
  std::string host = o.listen.substr(0, o.listen.rfind(':'));
  int port = 0;
  if (o.listen.find(':') == std::string::npos ||
      !absl::SimpleAtoi(o.listen.substr(o.listen.rfind(':') + 1), &port) || port <= 0 ||
      port > 65535) {
    return Usage("--listen wants ADDR:PORT, e.g. 127.0.0.1:9400");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return Usage("--listen address '" + host + "' is not an IPv4 address");
  }
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(s, 16) != 0) {
    std::cerr << "hfshim-stat: cannot listen on " << o.listen << ": " << strerror(errno)
              << "; choose a free port\n";
    return kExitFailure;
  }
  std::cerr << "hfshim-stat: serving Prometheus metrics on http://" << o.listen << "/metrics\n";
  while (!g_stop) {
    int c = accept4(s, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    char req[4096];
    ssize_t n = read(c, req, sizeof(req));
    bool ok = false;
    std::string body = n > 0 ? RenderPrometheus(Snapshot(o, &ok)) : "";
    std::string resp = absl::StrCat(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: ",
        body.size(), "\r\nConnection: close\r\n\r\n", body);
    (void)!write(c, resp.data(), resp.size());
    close(c);
  }
  close(s);
  return kExitOk;
}

int SummariseProfile(const Options& o) {
  auto reader = ProfileReader::Open(o.profile);
  if (!reader.ok()) return ReportFailure(kTool, reader.status());
  ProfileAggregator agg;
  std::string pending;
  const bool live = !o.once && !o.json && isatty(1);
  do {
    if (absl::Status s = (*reader)->ReadMore(&pending); !s.ok()) return ReportFailure(kTool, s);
    pending.erase(0, agg.AddText(pending));
    if (live)
      std::cout << "\033[H\033[2J"
                << "profile " << o.profile << "\n";
    std::cout << (o.json ? agg.RenderJson(o.top) : agg.Render(o.top)) << std::flush;
    if (live) std::this_thread::sleep_for(std::chrono::duration<double>(o.interval));
  } while (live && !g_stop);
  return kExitOk;
}

int Run(const Options& o) {
  if (!o.profile.empty()) return SummariseProfile(o);
  if (!o.listen.empty()) return ServePrometheus(o);
  bool ok = false;
  std::vector<SegmentSnapshot> before = Snapshot(o, &ok);
  if (!ok) return kExitFailure;
  if (absl::Status s = CheckPidsFound(o, before); !s.ok()) return ReportFailure(kTool, s);
  if (o.json || o.prometheus || o.once) {
    std::cout << (o.json         ? RenderJson(before)
                  : o.prometheus ? RenderPrometheus(before)
                                 : RenderTable(before, nullptr, 0));
    return kExitOk;
  }
  const bool tty = isatty(1);
  std::cout << RenderTable(before, nullptr, 0) << std::flush;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.interval));
    std::vector<SegmentSnapshot> now = Snapshot(o, &ok);
    if (!ok) return kExitFailure;
    if (tty) std::cout << "\033[H\033[2J";
    std::cout << RenderTable(now, &before, o.interval) << (tty ? "" : "\n") << std::flush;
    before = std::move(now);
  }
  return kExitOk;
}

}  // namespace
}  // namespace hfshim

int main(int argc, char** argv) {
  using hfshim::Usage;
  hfshim::Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)name;
      return argv[++i];
    };
    if (hfshim::HandleCommonOption(hfshim::kTool, a, hfshim::kUsage)) {
      return hfshim::kExitOk;
    } else if (a == "--once") {
      o.once = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--prometheus") {
      o.prometheus = true;
    } else if (a == "--interval") {
      const char* v = value("--interval");
      if (!v || !absl::SimpleAtod(v, &o.interval) || o.interval <= 0) {
        return Usage("--interval wants a number of seconds > 0");
      }
      o.interval_given = true;
    } else if (a == "--pid") {
      const char* v = value("--pid");
      uint32_t pid = 0;
      if (!v || !absl::SimpleAtoi(v, &pid)) return Usage("--pid wants a process id");
      o.pids.push_back(pid);
    } else if (a == "--listen") {
      const char* v = value("--listen");
      if (!v) return Usage("--listen wants ADDR:PORT");
      o.listen = v;
    } else if (a == "--profile") {
      const char* v = value("--profile");
      if (!v) return Usage("--profile wants a file");
      o.profile = v;
    } else if (a == "--top") {
      const char* v = value("--top");
      if (!v || !absl::SimpleAtoi(v, &o.top)) return Usage("--top wants a number");
      o.top_given = true;
    } else {
      return Usage("unknown argument '" + a + "'");
    }
  }
  if (const std::string conflict = hfshim::ConflictOf(o); !conflict.empty()) {
    return Usage(conflict);
  }
  // No SA_RESTART: a blocking accept() or sleep must return so the loop sees g_stop.
  struct sigaction sa {};
  sa.sa_handler = hfshim::OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return hfshim::Run(o);
}
