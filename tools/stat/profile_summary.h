// Summarises an access profile (core/stats/profile.h) the way `juicefs profile` does: top repos
// and paths by operations, bytes and time, and latency percentiles per operation.
// Not thread-safe; one aggregator per reader.
#ifndef HFSHIM_TOOLS_STAT_PROFILE_SUMMARY_H_
#define HFSHIM_TOOLS_STAT_PROFILE_SUMMARY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/stats/profile.h"

namespace hfshim {

class ProfileAggregator {
 public:
  void Add(const ProfileRecord& record);
  // Feeds every complete line of `text`; returns how many bytes were consumed (a trailing partial
  // line is left for the next call, so a growing file can be followed). Counts malformed lines.
  size_t AddText(absl::string_view text);

  uint64_t records() const { return records_; }
  uint64_t malformed() const { return malformed_; }

  // Human-readable summary with the `top` heaviest repos and paths.
  std::string Render(size_t top) const;
  std::string RenderJson(size_t top) const;

 private:
  struct Totals {
    uint64_t ops = 0;
    uint64_t bytes = 0;
    uint64_t latency_us = 0;
  };
  static std::vector<std::pair<std::string, Totals>> Top(const std::map<std::string, Totals>& m,
                                                         size_t n);
  uint64_t records_ = 0;
  uint64_t malformed_ = 0;
  std::map<std::string, Totals> by_repo_;
  std::map<std::string, Totals> by_path_;
  std::map<std::string, std::vector<uint64_t>> latencies_by_op_;
};

}  // namespace hfshim

#endif  // HFSHIM_TOOLS_STAT_PROFILE_SUMMARY_H_
