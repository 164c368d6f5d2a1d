// Renders counter snapshots (core/stats/segment.h) for hfshim-stat: a live table, JSON and the
// Prometheus text exposition format. Pure functions: no I/O.
#ifndef HFSHIM_TOOLS_STAT_STAT_RENDER_H_
#define HFSHIM_TOOLS_STAT_STAT_RENDER_H_

#include <string>
#include <vector>

#include "core/stats/segment.h"
#include "tools/cli/cli.h"

namespace hfshim {

// Sum of all processes' counters (gauges summed too: fetches in flight add up; the generation
// is the maximum).
SegmentSnapshot TotalOf(const std::vector<SegmentSnapshot>& processes);

// A table with one row per process and a TOTAL row. With `before` (the previous snapshot,
// `seconds` earlier) the activity columns are rates per second; without it, totals.
std::string RenderTable(const std::vector<SegmentSnapshot>& now,
                        const std::vector<SegmentSnapshot>* before, double seconds);

// {"processes": [{"pid", "comm", "start_unix_ns", "counters": {name: value},
//   "fetch_latency_us": [{"le": bound, "count": n}]}], "total": {...}}
std::string RenderJson(const std::vector<SegmentSnapshot>& now);

// Prometheus text format 0.0.4: hfshim_<name>_total counters and gauges, labelled by pid and
// comm, plus the fetch latency histogram hfshim_fetch_latency_seconds.
std::string RenderPrometheus(const std::vector<SegmentSnapshot>& now);

}  // namespace hfshim

#endif  // HFSHIM_TOOLS_STAT_STAT_RENDER_H_
