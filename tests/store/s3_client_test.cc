// S3Client's error mapping: each S3 failure becomes one line with the cause and the fix, and a
// status code the shim maps to ENOENT / EACCES / EIO. No network: responses are built here.
#include "core/store/s3/s3_client.h"

#include "gtest/gtest.h"

namespace hfshim {
namespace {

S3Settings Settings() {
  S3Settings s;
  s.scheme = "https";
  s.host = "s3.us-east-1.amazonaws.com";
  s.bucket = "b";
  s.prefix = "p/";
  s.region = "us-east-1";
  s.credentials = {"AKIDSECRETLOOKING", "TOPSECRETVALUE", "TOKENVALUE"};
  s.credentials_source = "profile 'team' in /home/u/.aws/credentials";
  return s;
}

HttpResponse Response(int status, const std::string& code, HttpHeaders headers = {}) {
  HttpResponse r;
  r.status = status;
  r.headers = std::move(headers);
  if (!code.empty()) {
    r.body = "<?xml version=\"1.0\"?><Error><Code>" + code + "</Code><Message>msg of " + code +
             "</Message></Error>";
  }
  return r;
}

class S3ErrorTest : public ::testing::Test {
 protected:
  absl::Status Map(const HttpResponse& r, const std::string& method = "GET") {
    S3Call call;
    call.method = method;
    call.full_key = "p/data/x";
    absl::Status s = client_.Error(r, call);
    EXPECT_EQ(std::string(s.message()).find("TOPSECRETVALUE"), std::string::npos) << s;
    EXPECT_EQ(std::string(s.message()).find("TOKENVALUE"), std::string::npos) << s;
    EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos) << s;
    return s;
  }
  S3Client client_{Settings(), 5, ""};
};

TEST_F(S3ErrorTest, MissingObjectIsNotFound) {
  absl::Status s = Map(Response(404, "NoSuchKey"));
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_NE(s.message().find("s3://b/p/data/x"), std::string::npos);
  EXPECT_TRUE(absl::IsNotFound(Map(Response(404, ""), "HEAD")));  // HEAD answers carry no body
}

TEST_F(S3ErrorTest, MissingBucketNamesTheFix) {
  absl::Status s = Map(Response(404, "NoSuchBucket"));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("bucket b does not exist"), std::string::npos) << s;
}

TEST_F(S3ErrorTest, BadCredentialsAreExplained) {
  absl::Status s = Map(Response(403, "InvalidAccessKeyId"));
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_NE(s.message().find("InvalidAccessKeyId"), std::string::npos) << s;
  EXPECT_NE(s.message().find("profile 'team'"), std::string::npos) << s;
  s = Map(Response(403, "SignatureDoesNotMatch"));
  EXPECT_NE(s.message().find("wrong secret key"), std::string::npos) << s;
  s = Map(Response(403, "RequestTimeTooSkewed"));
  EXPECT_NE(s.message().find("clock"), std::string::npos) << s;
  s = Map(Response(403, "ExpiredToken"));
  EXPECT_NE(s.message().find("expired"), std::string::npos) << s;
  EXPECT_TRUE(absl::IsPermissionDenied(Map(Response(403, ""), "HEAD")));
}

TEST_F(S3ErrorTest, WrongRegionNamesTheRegion) {
  absl::Status s = Map(Response(301, "PermanentRedirect", {{"x-amz-bucket-region", "eu-west-1"}}));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("set AWS_REGION=eu-west-1"), std::string::npos) << s;
  s = Map(Response(301, "", {{"x-amz-bucket-region", "ap-south-1"}}), "HEAD");
  EXPECT_NE(s.message().find("set AWS_REGION=ap-south-1"), std::string::npos) << s;
  HttpResponse r = Response(400, "");
  r.body =
      "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region is wrong</Message>"
      "<Region>us-west-2</Region></Error>";
  s = Map(r);
  EXPECT_NE(s.message().find("set AWS_REGION=us-west-2"), std::string::npos) << s;
}

TEST_F(S3ErrorTest, ThrottlingAndServerErrorsAreRetryable) {
  for (auto [status, code] :
       std::vector<std::pair<int, std::string>>{{503, "SlowDown"},
                                                {500, "InternalError"},
                                                {429, ""},
                                                {409, "ConditionalRequestConflict"}}) {
    absl::Status s = Map(Response(status, code));
    EXPECT_TRUE(absl::IsUnavailable(s)) << status << " " << s;
  }
  EXPECT_TRUE(absl::IsOutOfRange(Map(Response(416, "InvalidRange"))));
  EXPECT_TRUE(absl::IsInvalidArgument(Map(Response(400, "InvalidRequest"))));
}

}  // namespace
}  // namespace hfshim
