// Which files `hfshim-warm TARGET...` selects (SelectContents), on the vfs fixture's tree.
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "core/cache/warm.h"
#include "core/index/index_reader.h"
#include "tests/vfs/vfs_fixture.h"

namespace hfshim {
namespace {

class WarmSelectTest : public VfsTest {
 protected:
  absl::StatusOr<std::vector<Entry>> Select(std::vector<std::string> targets) {
    auto index = IndexReader::Open(source_.file.path);
    if (!index.ok()) return index.status();
    return SelectContents(**index, targets, nullptr, absl::Now() + absl::Seconds(10));
  }
};

TEST_F(WarmSelectTest, TheHubCacheItselfIsEverything) {
  auto all = Select({"--all"});
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_FALSE(all->empty());
  for (const char* root : {"", ".", "models--org--m/..", "models--org--m/../."}) {
    auto got = Select({root});
    ASSERT_TRUE(got.ok()) << "'" << root << "': " << got.status();
    EXPECT_EQ(got->size(), all->size()) << "'" << root << "'";
  }
}

TEST_F(WarmSelectTest, TargetsOutOfTheHubCacheAreErrors) {
  for (const char* out : {"..", "../etc/passwd", "models--org--m/../../x"}) {
    auto got = Select({out});
    EXPECT_FALSE(got.ok()) << "'" << out << "' selected " << (got.ok() ? got->size() : 0);
  }
  auto repo = Select({"models--org--m"});
  ASSERT_TRUE(repo.ok()) << repo.status();
  EXPECT_FALSE(repo->empty());
}

}  // namespace
}  // namespace hfshim
