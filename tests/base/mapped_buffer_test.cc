#include "core/base/mapped_buffer.h"

#include <sys/mman.h>

#include <cstring>
#include <utility>

#include "gtest/gtest.h"

namespace hfshim {
namespace {

// True if [p, p + 1) is mapped in this process (mincore fails with ENOMEM on unmapped memory).
bool Mapped(const void* p) {
  unsigned char vec;
  void* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t{4095});
  return mincore(page, 1, &vec) == 0;
}

TEST(MappedBufferTest, HoldsBytesMovesAndUnmapsWhenDestroyed) {
  auto made = MappedBuffer::Create(3 << 20);
  ASSERT_TRUE(made.ok()) << made.status();
  MappedBuffer a = *std::move(made);
  ASSERT_EQ(a.size(), size_t{3} << 20);
  EXPECT_EQ(a.data()[12345], 0) << "zero-filled";
  std::memset(a.data(), 'x', a.size());
  const char* where = a.data();

  MappedBuffer b = std::move(a);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.data(), where) << "a move keeps the mapping";
  EXPECT_EQ(b.view().substr(b.size() - 3), "xxx");

  b = MappedBuffer();  // the mapping goes back to the kernel, not to a heap
  EXPECT_FALSE(Mapped(where));
}

TEST(MappedBufferTest, EmptyBufferMapsNothing) {
  auto made = MappedBuffer::Create(0);
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(made->size(), 0u);
  EXPECT_EQ(made->data(), nullptr);
  EXPECT_TRUE(made->view().empty());
}

}  // namespace
}  // namespace hfshim
