#include "tools/stat/profile_summary.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/stat/stat_render.h"

namespace hfshim {
namespace {

uint64_t Percentile(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

std::string RepoOf(absl::string_view path) {
  size_t slash = path.find('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(0, slash));
}

}  // namespace

void ProfileAggregator::Add(const ProfileRecord& r) {
  ++records_;
  for (Totals* t : {&by_repo_[RepoOf(r.path)], &by_path_[r.path]}) {
    t->ops += 1;
    t->bytes += r.bytes;
    t->latency_us += r.latency_us;
  }
  latencies_by_op_[r.op].push_back(r.latency_us);
}

size_t ProfileAggregator::AddText(absl::string_view text) {
  size_t consumed = 0;
  while (true) {
    size_t nl = text.find('\n', consumed);
    if (nl == absl::string_view::npos) break;
    ProfileRecord r;
    if (ParseProfileLine(text.substr(consumed, nl - consumed), &r)) {
      Add(r);
    } else {
      ++malformed_;
    }
    consumed = nl + 1;
  }
  return consumed;
}

std::vector<std::pair<std::string, ProfileAggregator::Totals>> ProfileAggregator::Top(
    const std::map<std::string, Totals>& m, size_t n) {
  std::vector<std::pair<std::string, Totals>> v(m.begin(), m.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second.latency_us != b.second.latency_us ? a.second.latency_us > b.second.latency_us
                                                      : a.second.ops > b.second.ops;
  });
  if (v.size() > n) v.resize(n);
  return v;
}

std::string ProfileAggregator::Render(size_t top) const {
  std::string out = absl::StrFormat("%d records (%d malformed)\n\n", records_, malformed_);
  absl::StrAppendFormat(&out, "%-10s %10s %10s %10s %10s %10s\n", "op", "count", "p50 us", "p90 us",
                        "p99 us", "max us");
  for (const auto& [op, lat] : latencies_by_op_) {
    absl::StrAppendFormat(&out, "%-10s %10d %10d %10d %10d %10d\n", op, lat.size(),
                          Percentile(lat, 0.5), Percentile(lat, 0.9), Percentile(lat, 0.99),
                          *std::max_element(lat.begin(), lat.end()));
  }
  for (const auto& [title, map] :
       {std::make_pair("repo", &by_repo_), std::make_pair("path", &by_path_)}) {
    absl::StrAppendFormat(&out, "\ntop %s by time\n%10s %12s %10s  %s\n", title, "ops", "MB",
                          "time ms", title);
    for (const auto& [name, t] : Top(*map, top)) {
      absl::StrAppendFormat(&out, "%10d %12.2f %10.1f  %s\n", t.ops, t.bytes / 1e6,
                            t.latency_us / 1e3, name);
    }
  }
  return out;
}

std::string ProfileAggregator::RenderJson(size_t top) const {
  std::string out =
      absl::StrCat("{\"records\": ", records_, ", \"malformed\": ", malformed_, ", \"ops\": {");
  bool first = true;
  for (const auto& [op, lat] : latencies_by_op_) {
    absl::StrAppend(&out, first ? "" : ", ", JsonQuote(op), ": {\"count\": ", lat.size(),
                    ", \"p50_us\": ", Percentile(lat, 0.5), ", \"p90_us\": ", Percentile(lat, 0.9),
                    ", \"p99_us\": ", Percentile(lat, 0.99),
                    ", \"max_us\": ", *std::max_element(lat.begin(), lat.end()), "}");
    first = false;
  }
  out += "}";
  for (const auto& [title, map] :
       {std::make_pair("repos", &by_repo_), std::make_pair("paths", &by_path_)}) {
    absl::StrAppend(&out, ", \"top_", title, "\": [");
    bool f = true;
    for (const auto& [name, t] : Top(*map, top)) {
      absl::StrAppend(&out, f ? "" : ", ", "{\"name\": ", JsonQuote(name), ", \"ops\": ", t.ops,
                      ", \"bytes\": ", t.bytes, ", \"latency_us\": ", t.latency_us, "}");
      f = false;
    }
    out += "]";
  }
  return out + "}\n";
}

}  // namespace hfshim
