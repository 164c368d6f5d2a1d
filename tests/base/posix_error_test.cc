#include "core/base/posix_error.h"

#include <cerrno>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace hfshim {
namespace {

TEST(PosixErrorTest, CarriesExactErrnoThroughStatus) {
  for (int err : {ENOENT, ENOTDIR, ELOOP, EROFS, EACCES, EIO, ENOSPC, ENAMETOOLONG}) {
    absl::Status s = PosixError(err, "x");
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(StatusToErrno(s), err) << err;
  }
}

TEST(PosixErrorTest, CanonicalCodesMatchErrno) {
  EXPECT_TRUE(absl::IsNotFound(PosixError(ENOENT, "a")));
  EXPECT_TRUE(absl::IsPermissionDenied(PosixError(EACCES, "a")));
  EXPECT_TRUE(absl::IsAlreadyExists(PosixError(EEXIST, "a")));
}

TEST(PosixErrorTest, PlainStatusesMapThroughTable) {
  EXPECT_EQ(StatusToErrno(absl::OkStatus()), 0);
  EXPECT_EQ(StatusToErrno(absl::NotFoundError("x")), ENOENT);
  EXPECT_EQ(StatusToErrno(absl::DataLossError("x")), EIO);
  EXPECT_EQ(StatusToErrno(absl::UnavailableError("x")), EIO);
  EXPECT_EQ(StatusToErrno(absl::DeadlineExceededError("x")), EIO);
  EXPECT_EQ(StatusToErrno(absl::PermissionDeniedError("x")), EACCES);
}

TEST(PosixErrorTest, ErrnoStatusNamesTheCause) {
  absl::Status s = ErrnoStatus(ENOSPC, "write /tmp/x");
  EXPECT_NE(s.message().find("write /tmp/x"), absl::string_view::npos);
  EXPECT_NE(s.message().find("No space"), absl::string_view::npos);
  EXPECT_EQ(StatusToErrno(s), ENOSPC);
}

}  // namespace
}  // namespace hfshim
