#include "core/base/shared_library.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace hfshim {
namespace {

TEST(SharedLibraryTest, ResolvesEntryPointsOfALoadedLibrary) {
  size_t (*length)(const char*) = nullptr;
  ASSERT_TRUE(LoadSharedLibrary("libc.so.6", {{&length, "strlen"}}, "unused").ok());
  ASSERT_NE(length, nullptr);
  EXPECT_EQ(length("four"), 4u);
}

TEST(SharedLibraryTest, AMissingLibraryOrSymbolNamesItAndTheFix) {
  int (*fn)() = nullptr;
  absl::Status s = LoadSharedLibrary("libhfshim-nothere.so.9", {{&fn, "f"}}, "install it");
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("cannot load libhfshim-nothere.so.9 ("), std::string::npos) << s;
  EXPECT_NE(s.message().find("); install it"), std::string::npos) << s;

  size_t (*length)(const char*) = nullptr;
  s = LoadSharedLibrary("libc.so.6", {{&length, "strlen"}, {&fn, "hfshim_no_such_symbol"}},
                        "upgrade it");
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_EQ(s.message(), "libc.so.6 lacks hfshim_no_such_symbol; upgrade it");
}

}  // namespace
}  // namespace hfshim
