#include "core/base/cstring_hash.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace hfshim {
namespace {

// Two pages, the second inaccessible: a string placed to end on the first page's last byte
// would fault if the hash read past the page.
class GuardedPage {
 public:
  GuardedPage() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* p = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(p, MAP_FAILED);
    base_ = static_cast<char*>(p);
    EXPECT_EQ(mprotect(base_ + page_, page_, PROT_NONE), 0);
  }
  ~GuardedPage() { munmap(base_, 2 * page_); }
  // `s` copied so that its terminator is the page's last byte.
  const char* AtEnd(const std::string& s) {
    char* at = base_ + page_ - s.size() - 1;
    std::memcpy(at, s.c_str(), s.size() + 1);
    return at;
  }

 private:
  size_t page_ = 0;
  char* base_ = nullptr;
};

TEST(CStringHashTest, DependsOnTheBytesNotWhereTheyAre) {
  GuardedPage guard;
  const std::string path = "/home/user/.cache/huggingface/hub/models--org--m/config.json";
  for (size_t len = 0; len <= path.size(); ++len) {
    const std::string s = path.substr(0, len);
    const uint64_t want = HashCString(s.c_str(), 7);
    char buf[160];
    for (size_t shift = 0; shift < 16; ++shift) {
      std::memcpy(buf + shift, s.c_str(), len + 1);
      EXPECT_EQ(HashCString(buf + shift, 7), want) << len << " at +" << shift;
    }
    EXPECT_EQ(HashCString(guard.AtEnd(s), 7), want) << len << " ending a page";
  }
}

TEST(CStringHashTest, SeparatesNearbyStrings) {
  const std::string base = "/tmp/hfshim/some/fairly/long/path/to/a/missing/file.bin";
  std::set<uint64_t> seen;
  // Every one-byte change, every prefix (the length counts: "a" and "a\0\0" differ), two seeds.
  for (size_t i = 0; i < base.size(); ++i) {
    std::string s = base;
    s[i] ^= 1;
    EXPECT_TRUE(seen.insert(HashCString(s.c_str(), 1)).second) << s;
  }
  for (size_t len = 0; len <= base.size(); ++len) {
    EXPECT_TRUE(seen.insert(HashCString(base.substr(0, len).c_str(), 1)).second) << len;
  }
  EXPECT_NE(HashCString(base.c_str(), 1), HashCString(base.c_str(), 2));
}

}  // namespace
}  // namespace hfshim
