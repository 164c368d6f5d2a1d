#include "core/base/mapped_buffer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

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

// A destroyed recycled buffer's mapping is kept (up to kRecycledMappings of them) and handed to
// the next recycled buffer that fits; plain buffers and oversized ones are unmapped.
TEST(MappedBufferTest, RecycledMappingsAreReusedAndBounded) {
  const char* first = nullptr;
  {
    auto a = MappedBuffer::CreateRecycled(3 << 20);
    ASSERT_TRUE(a.ok()) << a.status();
    std::memset(a->data(), 'a', a->size());
    first = a->data();
  }
  EXPECT_TRUE(Mapped(first)) << "kept for the next recycled buffer";
  {
    auto b = MappedBuffer::CreateRecycled((3 << 20) - 12345);  // fits: the same mapping
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->data(), first);
    EXPECT_EQ(b->size(), size_t{3 << 20} - 12345);
    std::memset(b->data(), 'b', b->size());
    EXPECT_EQ(b->view().substr(0, 2), "bb");
  }
  // More destroyed at once than are kept: the rest go back to the kernel.
  std::vector<MappedBuffer> many;
  std::vector<const char*> where;
  for (size_t i = 0; i < MappedBuffer::kRecycledMappings + 2; ++i) {
    auto m = MappedBuffer::CreateRecycled(1 << 20);
    ASSERT_TRUE(m.ok());
    m->data()[0] = 'x';
    where.push_back(m->data());
    many.push_back(*std::move(m));
  }
  many.clear();
  size_t still_mapped = 0;
  for (const char* p : where) still_mapped += Mapped(p);
  EXPECT_LE(still_mapped, MappedBuffer::kRecycledMappings);
  // Too large to keep.
  const char* big = nullptr;
  {
    auto b = MappedBuffer::CreateRecycled(MappedBuffer::kMaxRecycledBytes + 1);
    ASSERT_TRUE(b.ok());
    big = b->data();
  }
  EXPECT_FALSE(Mapped(big));
}

// Another process reads a shared buffer's bytes through /proc/<pid>/fd, at their offset `lead`
// in its memory file; the mapping is recycled within the process, never by a fork child (there
// it is the parent's memory).
TEST(MappedBufferTest, SharedBufferIsReadableThroughProcAndRecycledOnlyByItsMaker) {
  const char* first = nullptr;
  {
    auto a = MappedBuffer::CreateShared(3 << 20, 5000);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_GE(a->shared_fd(), 0);
    std::memset(a->data(), 'p', a->size());
    first = a->data();
    pid_t reader = fork();
    if (reader == 0) {  // another process, opening the file by the path it would be given
      const std::string path =
          "/proc/" + std::to_string(getppid()) + "/fd/" + std::to_string(a->shared_fd());
      const int fd = open(path.c_str(), O_RDONLY);
      char got[3] = {};
      _exit(fd >= 0 && pread(fd, got, 3, 5000 + 100) == 3 && std::memcmp(got, "ppp", 3) == 0 &&
                    pread(fd, got, 1, 4999) == 1 && got[0] == 0
                ? 0
                : 1);
    }
    int status = -1;
    ASSERT_EQ(waitpid(reader, &status, 0), reader);
    EXPECT_EQ(status, 0) << "bytes at offset lead, a hole before them";
  }
  pid_t dropper = fork();
  if (dropper == 0) _exit((MappedBuffer::DropInheritedShared(), Mapped(first)) ? 1 : 0);
  int dropped = -1;
  ASSERT_EQ(waitpid(dropper, &dropped, 0), dropper);
  EXPECT_EQ(dropped, 0) << "a fork child unmaps its parent's kept shared mappings";
  EXPECT_TRUE(Mapped(first)) << "the parent keeps them";
  pid_t child = fork();
  if (child == 0) {  // must not write into the parent's kept mapping
    auto c = MappedBuffer::CreateShared(3 << 20, 5000);
    if (!c.ok()) _exit(1);
    std::memset(c->data(), 'c', c->size());
    _exit(0);
  }
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(status, 0);
  auto b = MappedBuffer::CreateShared((3 << 20) - 4096, 4096);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->data() + 5000 - 4096, first) << "the maker reuses its kept mapping";
  EXPECT_EQ(b->view().substr(1000, 3), "ppp") << "untouched by the child";
}

// A program may close every fd it does not know (closefrom) while a shared buffer lives, and
// reuse the number: the buffer then never names that fd to other processes, nor closes it.
TEST(MappedBufferTest, AnFdClosedAndReusedBehindItsBackIsNeitherNamedNorClosed) {
  auto a = MappedBuffer::CreateShared(1 << 20, 0);
  ASSERT_TRUE(a.ok()) << a.status();
  const int fd = a->shared_fd();
  ASSERT_GE(fd, 0);
  const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(null, 0);
  ASSERT_EQ(dup2(null, fd), fd);  // the memory file closed, its number now the program's
  close(null);
  EXPECT_EQ(a->shared_fd(), -1) << "another file is never named as the buffer's";
  *a = MappedBuffer();  // released (its mapping may be kept)
  auto b = MappedBuffer::CreateShared(1 << 20, 0);
  ASSERT_TRUE(b.ok());
  EXPECT_GE(b->shared_fd(), 0);
  EXPECT_NE(b->shared_fd(), fd) << "a fresh memory file";
  *b = MappedBuffer();
  EXPECT_NE(fcntl(fd, F_GETFD), -1) << "the program's fd was closed by the buffer";
  close(fd);
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
