#include "tools/stat/stat_render.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hfshim {
namespace {

bool IsGauge(size_t i) {
  return i == static_cast<size_t>(Counter::kFetchesInFlight) ||
         i == static_cast<size_t>(Counter::kIndexGeneration);
}

uint64_t Get(const SegmentSnapshot& s, Counter c) { return s.counters[static_cast<size_t>(c)]; }

const SegmentSnapshot* FindPid(const std::vector<SegmentSnapshot>* all, uint32_t pid) {
  if (all == nullptr) return nullptr;
  for (const auto& s : *all) {
    if (s.pid == pid) return &s;
  }
  return nullptr;
}

// Activity of `now` since `before` (or since start), per second when seconds > 0.
double Activity(const SegmentSnapshot& now, const SegmentSnapshot* before, Counter c,
                double seconds) {
  double value = static_cast<double>(Get(now, c));
  if (before != nullptr) value -= static_cast<double>(Get(*before, c));
  return seconds > 0 && before != nullptr ? value / seconds : value;
}

void AppendRow(std::string* out, const std::string& pid, const std::string& comm,
               const SegmentSnapshot& now, const SegmentSnapshot* before, double seconds) {
  auto a = [&](Counter c) { return Activity(now, before, c, seconds); };
  const double hits = a(Counter::kCacheFileHits), misses = a(Counter::kCacheFileMisses);
  const double hit_pct = hits + misses > 0 ? 100.0 * hits / (hits + misses) : 0;
  const double errors = a(Counter::kErrors) + a(Counter::kErrorsEio) + a(Counter::kErrorsErofs);
  absl::StrAppendFormat(
      out, "%-8s %-15.15s %9.0f %9.0f %8.0f %6.1f %10.1f %10.1f %6.0f %7.0f %5d\n", pid, comm,
      a(Counter::kVirtualOpens), a(Counter::kVirtualStats), a(Counter::kVirtualReaddirs), hit_pct,
      a(Counter::kBytesFromDiskCache) / 1e6, a(Counter::kBytesFromStore) / 1e6,
      static_cast<double>(Get(now, Counter::kFetchesInFlight)), errors,
      static_cast<int>(Get(now, Counter::kIndexGeneration)));
}

}  // namespace

SegmentSnapshot TotalOf(const std::vector<SegmentSnapshot>& processes) {
  SegmentSnapshot total;
  total.comm = "TOTAL";
  total.counters.assign(kCounterCount, 0);
  total.latency.assign(kLatencyBuckets, 0);
  for (const auto& p : processes) {
    for (size_t i = 0; i < kCounterCount; ++i) {
      if (i == static_cast<size_t>(Counter::kIndexGeneration)) {
        total.counters[i] = std::max(total.counters[i], p.counters[i]);
      } else {
        total.counters[i] += p.counters[i];
      }
    }
    for (size_t i = 0; i < kLatencyBuckets; ++i) total.latency[i] += p.latency[i];
  }
  return total;
}

std::string RenderTable(const std::vector<SegmentSnapshot>& now,
                        const std::vector<SegmentSnapshot>* before, double seconds) {
  const bool rates = before != nullptr && seconds > 0;
  std::string out =
      absl::StrFormat("%-8s %-15s %9s %9s %8s %6s %10s %10s %6s %7s %5s\n", "PID", "COMMAND",
                      rates ? "opens/s" : "opens", rates ? "stats/s" : "stats",
                      rates ? "lists/s" : "lists", "hit%", rates ? "diskMB/s" : "diskMB",
                      rates ? "storeMB/s" : "storeMB", "infl", rates ? "errs/s" : "errors", "gen");
  for (const auto& p : now) {
    AppendRow(&out, absl::StrCat(p.pid), p.comm, p, FindPid(before, p.pid), seconds);
  }
  SegmentSnapshot total = TotalOf(now);
  if (before != nullptr) {
    // Rates of the total cover the processes present in both snapshots.
    std::vector<SegmentSnapshot> common_before, common_now;
    for (const auto& p : now) {
      if (const SegmentSnapshot* b = FindPid(before, p.pid)) {
        common_before.push_back(*b);
        common_now.push_back(p);
      }
    }
    SegmentSnapshot tb = TotalOf(common_before), tn = TotalOf(common_now);
    tn.counters[static_cast<size_t>(Counter::kIndexGeneration)] =
        total.counters[static_cast<size_t>(Counter::kIndexGeneration)];
    AppendRow(&out, "", "TOTAL", tn, &tb, seconds);
  } else {
    AppendRow(&out, "", "TOTAL", total, nullptr, 0);
  }
  absl::StrAppendFormat(&out, "%d shimmed process%s\n", now.size(), now.size() == 1 ? "" : "es");
  return out;
}

std::string RenderJson(const std::vector<SegmentSnapshot>& now) {
  auto one = [](const SegmentSnapshot& s) {
    std::string out = "{";
    if (s.pid != 0) {
      absl::StrAppend(&out, "\"pid\": ", s.pid, ", \"comm\": ", JsonQuote(s.comm),
                      ", \"start_unix_ns\": ", s.start_unix_ns, ", ");
    }
    out += "\"counters\": {";
    for (size_t i = 0; i < kCounterCount; ++i) {
      absl::StrAppend(&out, i ? ", " : "", JsonQuote(InfoFor(static_cast<Counter>(i)).name), ": ",
                      s.counters[i]);
    }
    out += "}, \"fetch_latency_us\": [";
    for (size_t i = 0; i < kLatencyBuckets; ++i) {
      absl::StrAppend(&out, i ? ", " : "", "{\"le\": ",
                      i + 1 < kLatencyBuckets ? absl::StrCat(uint64_t{1} << i) : "null",
                      ", \"count\": ", s.latency[i], "}");
    }
    return out + "]}";
  };
  std::string out = "{\"processes\": [";
  for (size_t i = 0; i < now.size(); ++i) absl::StrAppend(&out, i ? ", " : "", one(now[i]));
  absl::StrAppend(&out, "], \"total\": ", one(TotalOf(now)), "}\n");
  return out;
}

std::string RenderPrometheus(const std::vector<SegmentSnapshot>& now) {
  std::string out;
  auto label = [](const SegmentSnapshot& s) {
    std::string comm;
    for (char c : s.comm) {
      if (c == '\\' || c == '"') comm.push_back('\\');
      if (c == '\n') {
        comm += "\\n";
        continue;
      }
      comm.push_back(c);
    }
    return absl::StrCat("{pid=\"", s.pid, "\",comm=\"", comm, "\"}");
  };
  for (size_t i = 0; i < kCounterCount; ++i) {
    const CounterInfo& info = InfoFor(static_cast<Counter>(i));
    const bool gauge = IsGauge(i);
    const std::string name = absl::StrCat("hfshim_", info.name, gauge ? "" : "_total");
    absl::StrAppend(&out, "# HELP ", name, " ", info.help, " (", info.unit, ")\n", "# TYPE ", name,
                    gauge ? " gauge\n" : " counter\n");
    for (const auto& s : now) absl::StrAppend(&out, name, label(s), " ", s.counters[i], "\n");
  }
  const std::string h = "hfshim_fetch_latency_seconds";
  absl::StrAppend(&out, "# HELP ", h, " Latency of store GET requests.\n# TYPE ", h,
                  " histogram\n");
  for (const auto& s : now) {
    std::string l = label(s);
    l.pop_back();  // reopen the label set to add le
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBuckets; ++i) {
      cumulative += s.latency[i];
      std::string le = i + 1 < kLatencyBuckets
                           ? absl::StrFormat("%g", static_cast<double>(uint64_t{1} << i) / 1e6)
                           : "+Inf";
      absl::StrAppend(&out, h, "_bucket", l, ",le=\"", le, "\"} ", cumulative, "\n");
    }
    absl::StrAppend(&out, h, "_sum", label(s), " ",
                    absl::StrFormat("%g", Get(s, Counter::kFetchMicros) / 1e6), "\n");
    absl::StrAppend(&out, h, "_count", label(s), " ", cumulative, "\n");
  }
  return out;
}

}  // namespace hfshim
