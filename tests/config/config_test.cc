#include "core/config/config.h"

#include <map>
#include <string>

#include "core/config/parse.h"
#include "gtest/gtest.h"

namespace hfshim {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(ParseTest, Bytes) {
  uint64_t b = 0;
  EXPECT_TRUE(ParseBytes("4M", &b));
  EXPECT_EQ(b, 4u << 20);
  EXPECT_TRUE(ParseBytes("100G", &b));
  EXPECT_EQ(b, 100ull << 30);
  EXPECT_TRUE(ParseBytes("1.5KiB", &b));
  EXPECT_EQ(b, 1536u);
  EXPECT_TRUE(ParseBytes("123", &b));
  EXPECT_EQ(b, 123u);
  EXPECT_FALSE(ParseBytes("12Q", &b));
  EXPECT_FALSE(ParseBytes("-1G", &b));
  EXPECT_FALSE(ParseBytes("", &b));
  EXPECT_FALSE(ParseBytes("G", &b));
}

TEST(ParseTest, BoolAndInt) {
  bool v = false;
  EXPECT_TRUE(ParseBool("YES", &v));
  EXPECT_TRUE(v);
  EXPECT_TRUE(ParseBool("0", &v));
  EXPECT_FALSE(v);
  EXPECT_FALSE(ParseBool("maybe", &v));
  int i = 0;
  EXPECT_TRUE(ParseInt("7", 0, 10, &i));
  EXPECT_EQ(i, 7);
  EXPECT_FALSE(ParseInt("11", 0, 10, &i));
}

TEST(ConfigTest, DefaultsFollowXdgAndHome) {
  auto config = LoadConfig(FakeEnv({{"HOME", "/home/u"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->store_url, "file:///home/u/.local/share/hfshim/store");
  ASSERT_EQ(config->cache_dirs.size(), 1u);
  EXPECT_EQ(config->cache_dirs[0], "/home/u/.cache/hfshim");
  EXPECT_EQ(config->prefix, "/home/u/.cache/huggingface/hub");
  EXPECT_EQ(config->block_size_bytes, 4u << 20);
  EXPECT_EQ(config->cache_size_bytes, 100ull << 30);
  EXPECT_EQ(config->pack_threshold_bytes, 1u << 20);

  config = LoadConfig(FakeEnv({{"HOME", "/h"}, {"XDG_DATA_HOME", "/d"}, {"XDG_CACHE_HOME", "/c"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->store_url, "file:///d/hfshim/store");
  EXPECT_EQ(config->cache_dirs[0], "/c/hfshim");
  EXPECT_EQ(config->prefix, "/c/huggingface/hub");
}

TEST(ConfigTest, HubCacheResolutionOrderMatchesHuggingfaceHub) {
  EXPECT_EQ(DefaultHubCachePath(FakeEnv({{"HOME", "/h"},
                                         {"HF_HUB_CACHE", "/a"},
                                         {"HUGGINGFACE_HUB_CACHE", "/b"},
                                         {"HF_HOME", "/c"}})),
            "/a");
  EXPECT_EQ(DefaultHubCachePath(
                FakeEnv({{"HOME", "/h"}, {"HUGGINGFACE_HUB_CACHE", "/b"}, {"HF_HOME", "/c"}})),
            "/b");
  EXPECT_EQ(DefaultHubCachePath(FakeEnv({{"HOME", "/h"}, {"HF_HOME", "/c/"}})), "/c/hub");
  EXPECT_EQ(DefaultHubCachePath(FakeEnv({{"HOME", "/h"}, {"HF_HOME", "~/hf"}})), "/h/hf/hub");
  EXPECT_EQ(DefaultHubCachePath(FakeEnv({{"HOME", "/h"}, {"XDG_CACHE_HOME", "/x"}})),
            "/x/huggingface/hub");
}

TEST(ConfigTest, PrefixOverride) {
  auto config = LoadConfig(FakeEnv({{"HOME", "/h"}, {"HFSHIM_PREFIX", "/p/hub/"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->prefix, "/p/hub");
  EXPECT_EQ(LoadConfig(FakeEnv({{"HOME", "/h"}, {"HFSHIM_PREFIX", "~/hub"}}))->prefix, "/h/hub");
  // Relative: a different directory in every process that changed directory.
  auto relative = LoadConfig(FakeEnv({{"HOME", "/h"}, {"HFSHIM_PREFIX", "hub"}}));
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.status().message().find("absolute path"), std::string::npos)
      << relative.status();
}

TEST(ConfigTest, InvalidValueNamesVariableValueAndWhatIsAccepted) {
  auto config = LoadConfig(FakeEnv({{"HOME", "/h"}, {"HFSHIM_CACHE_SIZE", "12Q"}}));
  ASSERT_FALSE(config.ok());
  std::string msg(config.status().message());
  EXPECT_NE(msg.find("HFSHIM_CACHE_SIZE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("12Q"), std::string::npos) << msg;
  EXPECT_NE(msg.find("500M"), std::string::npos) << msg;

  EXPECT_FALSE(LoadConfig(FakeEnv({{"HOME", "/h"}, {"HFSHIM_BLOCK_SIZE", "3M"}})).ok());
  EXPECT_FALSE(LoadConfig(FakeEnv({{"HOME", "/h"}, {"HFSHIM_LOG", "loud"}})).ok());
  EXPECT_FALSE(LoadConfig(FakeEnv({{"HOME", "/h"}, {"HFSHIM_STORE", "ftp://x"}})).ok());
  EXPECT_FALSE(LoadConfig(FakeEnv({{"HOME", "/h"}, {"HFSHIM_CACHE_DIR", "rel/dir"}})).ok());
  EXPECT_FALSE(LoadConfig(FakeEnv({{"HOME", "/h"}, {"HFSHIM_FREE_RATIO", "0.95"}})).ok());
}

TEST(ConfigTest, SeveralCacheDirsAndFallbackStores) {
  auto config = LoadConfig(FakeEnv({{"HOME", "/h"},
                                    {"HFSHIM_CACHE_DIR", "/a:/b/"},
                                    {"HFSHIM_STORE", "http://mirror/x,s3://bucket/p"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->cache_dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(config->store_url, "http://mirror/x,s3://bucket/p");
}

TEST(ConfigTest, HelpListsEverySetting) {
  std::string help = SettingsHelp();
  for (const char* name : {"HFSHIM_STORE", "HFSHIM_CACHE_DIR", "HFSHIM_CACHE_SIZE",
                           "HFSHIM_FREE_RATIO", "HFSHIM_BUFFER_SIZE", "HFSHIM_BLOCK_SIZE",
                           "HFSHIM_PREFIX", "HFSHIM_REFRESH", "HFSHIM_LOG"}) {
    EXPECT_NE(help.find(name), std::string::npos) << name;
  }
  std::string md = SettingsMarkdown();
  EXPECT_NE(md.find("`~/.cache/huggingface/hub`"), std::string::npos) << md;
}

}  // namespace
}  // namespace hfshim

#include <fstream>
#include <sstream>

namespace hfshim {
namespace {

// README.md must carry the settings table exactly as the code defines it. Regenerate with
//   build/tests/config/settings_doc > /tmp/t.md  and paste it under "## Configuration".
TEST(ConfigDocTest, ReadmeHasTheCurrentSettingsTable) {
  std::ifstream in(HFSHIM_README_PATH);
  ASSERT_TRUE(in) << HFSHIM_README_PATH;
  std::stringstream readme;
  readme << in.rdbuf();
  EXPECT_NE(readme.str().find(SettingsMarkdown()), std::string::npos)
      << "README.md's settings table is stale; replace it with:\n"
      << SettingsMarkdown();
}

}  // namespace
}  // namespace hfshim
