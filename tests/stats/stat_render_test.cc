#include "tools/stat/stat_render.h"

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "tools/stat/profile_summary.h"

namespace hfshim {
namespace {

SegmentSnapshot Fake(uint32_t pid, const std::string& comm, uint64_t opens) {
  SegmentSnapshot s;
  s.pid = pid;
  s.comm = comm;
  s.counters.assign(kCounterCount, 0);
  s.latency.assign(kLatencyBuckets, 0);
  s.counters[static_cast<size_t>(Counter::kVirtualOpens)] = opens;
  s.counters[static_cast<size_t>(Counter::kIndexGeneration)] = pid;  // distinct per process
  s.latency[3] = 2;
  s.latency[10] = 1;
  return s;
}

TEST(StatRenderTest, TotalSumsCountersAndTakesMaxGeneration) {
  SegmentSnapshot t = TotalOf({Fake(10, "a", 3), Fake(20, "b", 4)});
  EXPECT_EQ(t.counters[static_cast<size_t>(Counter::kVirtualOpens)], 7u);
  EXPECT_EQ(t.counters[static_cast<size_t>(Counter::kIndexGeneration)], 20u);
  EXPECT_EQ(t.latency[3], 4u);
}

TEST(StatRenderTest, TableShowsRatesBetweenSnapshots) {
  std::vector<SegmentSnapshot> before = {Fake(10, "python3", 100)};
  std::vector<SegmentSnapshot> now = {Fake(10, "python3", 300)};
  std::string table = RenderTable(now, &before, 2.0);
  EXPECT_NE(table.find("opens/s"), std::string::npos) << table;
  EXPECT_NE(table.find(" 100 "), std::string::npos) << table;  // (300 - 100) / 2 s
  EXPECT_NE(table.find("python3"), std::string::npos);
  EXPECT_NE(table.find("1 shimmed process\n"), std::string::npos) << table;
}

TEST(StatRenderTest, JsonHasEveryCounterAndEscapesNames) {
  std::string json = RenderJson({Fake(10, "we\"ird\\name", 5)});
  EXPECT_NE(json.find("\"comm\": \"we\\\"ird\\\\name\""), std::string::npos) << json;
  for (size_t i = 0; i < kCounterCount; ++i) {
    EXPECT_NE(json.find(std::string("\"") + InfoFor(static_cast<Counter>(i)).name + "\""),
              std::string::npos);
  }
  EXPECT_NE(json.find("\"virtual_opens\": 5"), std::string::npos);
}

// Checks the rules of the Prometheus text format 0.0.4 that scrapers enforce.
TEST(StatRenderTest, PrometheusOutputFollowsTheExpositionFormat) {
  std::string text = RenderPrometheus({Fake(10, "a\"b", 3), Fake(20, "c", 4)});
  const std::regex sample(
      R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$)re");
  std::set<std::string> typed;
  std::map<std::string, std::string> types;
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  uint64_t last_bucket = 0;
  std::string last_series;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string name, type;
      t >> name >> type;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      EXPECT_TRUE(typed.insert(name).second) << "TYPE twice: " << name;
      types[name] = type;
      continue;
    }
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "bad sample line: " << line;
    std::string name = m[1];
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!typed.count(family) && family.size() > strlen(suffix) &&
          family.compare(family.size() - strlen(suffix), strlen(suffix), suffix) == 0) {
        family.resize(family.size() - strlen(suffix));
      }
    }
    EXPECT_TRUE(typed.count(family)) << "sample before its TYPE: " << line;
    if (types[family] == "counter") {
      EXPECT_EQ(name.substr(name.size() - 6), "_total") << line;
    }
    if (name == "hfshim_fetch_latency_seconds_bucket") {
      uint64_t v = std::stoull(line.substr(line.rfind(' ') + 1));
      std::string series = line.substr(0, line.find(",le="));
      if (series == last_series) {
        EXPECT_GE(v, last_bucket) << "buckets must be cumulative";
      }
      last_series = series;
      last_bucket = v;
    }
    ++samples;
  }
  EXPECT_GT(samples, static_cast<int>(2 * kCounterCount));
  EXPECT_NE(
      text.find("hfshim_fetch_latency_seconds_bucket{pid=\"10\",comm=\"a\\\"b\",le=\"+Inf\"} 3"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("hfshim_fetch_latency_seconds_count{pid=\"10\",comm=\"a\\\"b\"} 3"),
            std::string::npos);
}

TEST(ProfileSummaryTest, SummarisesAKnownWorkload) {
  ProfileAggregator agg;
  std::string text;
  for (int i = 0; i < 90; ++i) {
    text += FormatProfileLine({1, "open", 10, 0, 1000, "disk", "datasets--a--imgs/snapshots/r/x"});
  }
  for (int i = 0; i < 10; ++i) {
    text += FormatProfileLine({1, "open", 5000, 0, 50000, "store", "models--o--m/snapshots/r/w"});
  }
  text += FormatProfileLine({1, "stat", 1, 0, 0, "index", "models--o--m/snapshots/r/w"});
  text += "garbage line\n";
  text += "123 open";  // partial last line: left for the next call
  size_t consumed = agg.AddText(text);
  EXPECT_EQ(consumed, text.size() - 8);
  EXPECT_EQ(agg.records(), 101u);
  EXPECT_EQ(agg.malformed(), 1u);
  std::string out = agg.Render(5);
  // The model repo dominates by time although it has fewer operations.
  size_t model = out.find("models--o--m\n"), dataset = out.find("datasets--a--imgs\n");
  ASSERT_NE(model, std::string::npos) << out;
  ASSERT_NE(dataset, std::string::npos) << out;
  EXPECT_LT(model, dataset) << out;
  std::string json = agg.RenderJson(5);
  EXPECT_NE(json.find("\"open\": {\"count\": 100, \"p50_us\": 10"), std::string::npos) << json;
  EXPECT_NE(json.find("\"max_us\": 5000"), std::string::npos) << json;
}

}  // namespace
}  // namespace hfshim
