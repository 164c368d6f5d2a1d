#include "core/store/s3/s3_settings.h"

#include <map>

#include "core/env/file_util.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace hfshim {
namespace {

class S3SettingsTest : public ::testing::Test {
 protected:
  EnvLookup Lookup() {
    return [this](const char* name) -> const char* {
      auto it = vars_.find(name);
      return it == vars_.end() ? nullptr : it->second.c_str();
    };
  }
  absl::StatusOr<S3Settings> Resolve(const std::string& url) {
    vars_["HOME"] = home_.path();
    return ResolveS3Settings(url, config_, Lookup(), Env::Default());
  }
  void WriteAws(const std::string& name, const std::string& text) {
    ASSERT_TRUE(MakeDirs(Env::Default(), home_.Sub(".aws")).ok());
    ASSERT_TRUE(WriteFileAtomic(Env::Default(), home_.Sub(".aws/" + name), text).ok());
  }

  TempDir home_;
  std::map<std::string, std::string> vars_;
  Config config_;
};

TEST_F(S3SettingsTest, EnvironmentCredentialsAndAwsDefaults) {
  vars_ = {{"AWS_ACCESS_KEY_ID", "AKID"},
           {"AWS_SECRET_ACCESS_KEY", "SECRET"},
           {"AWS_SESSION_TOKEN", "TOKEN"},
           {"AWS_REGION", "eu-west-1"}};
  auto s = Resolve("s3://my-bucket/some/prefix/");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->bucket, "my-bucket");
  EXPECT_EQ(s->prefix, "some/prefix/");
  EXPECT_EQ(s->host, "s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(s->scheme, "https");
  EXPECT_FALSE(s->path_style);  // AWS + DNS-safe name: virtual-host style
  EXPECT_EQ(s->RequestHost(), "my-bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(s->RequestPath("some/prefix/a b"), "/some/prefix/a%20b");
  EXPECT_EQ(s->credentials.session_token, "TOKEN");
  EXPECT_EQ(s->Describe(), "s3://my-bucket/some/prefix");
  EXPECT_EQ(s->credentials_source.find("SECRET"), std::string::npos);
}

TEST_F(S3SettingsTest, CustomEndpointMeansPathStyle) {
  vars_ = {{"AWS_ACCESS_KEY_ID", "A"},
           {"AWS_SECRET_ACCESS_KEY", "S"},
           {"AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"}};
  auto s = Resolve("s3://b.with.dots");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->path_style);
  EXPECT_EQ(s->host, "127.0.0.1:9000");
  EXPECT_EQ(s->region, "us-east-1");
  EXPECT_EQ(s->RequestPath("k"), "/b.with.dots/k");
  EXPECT_EQ(s->RequestPath(""), "/b.with.dots");
  // HFSHIM_S3_ENDPOINT (Config) wins over AWS_ENDPOINT_URL_S3, which wins over AWS_ENDPOINT_URL.
  vars_["AWS_ENDPOINT_URL_S3"] = "http://s3only:1";
  EXPECT_EQ(Resolve("s3://b")->host, "s3only:1");
  config_.s3_endpoint = "https://minio.local";
  EXPECT_EQ(Resolve("s3://b")->host, "minio.local");
  config_.s3_addressing = "virtual";
  EXPECT_FALSE(Resolve("s3://b")->path_style);
}

TEST_F(S3SettingsTest, ProfileFromCredentialsAndConfigFiles) {
  WriteAws("credentials",
           "[default]\naws_access_key_id = DEF\naws_secret_access_key = DS\n"
           "# comment\n[team]\naws_access_key_id=TEAMKEY\n"
           "aws_secret_access_key = TEAMSECRET\n");
  WriteAws("config", "[default]\nregion = us-west-2\n[profile team]\nregion = ap-south-1\n");
  auto s = Resolve("s3://b");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->credentials.access_key_id, "DEF");
  EXPECT_EQ(s->region, "us-west-2");
  vars_["AWS_PROFILE"] = "team";
  s = Resolve("s3://b");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->credentials.access_key_id, "TEAMKEY");
  EXPECT_EQ(s->region, "ap-south-1");
  EXPECT_NE(s->credentials_source.find("profile 'team'"), std::string::npos);
}

TEST_F(S3SettingsTest, ExplicitFilesAndMissingProfile) {
  TempDir other;
  ASSERT_TRUE(WriteFileAtomic(Env::Default(), other.Sub("creds"),
                              "[x]\naws_access_key_id=K\naws_secret_access_key=V\n")
                  .ok());
  vars_ = {{"AWS_SHARED_CREDENTIALS_FILE", other.Sub("creds")}, {"AWS_PROFILE", "x"}};
  auto s = Resolve("s3://b");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->credentials.access_key_id, "K");
  vars_["AWS_PROFILE"] = "nope";
  s = Resolve("s3://b");
  EXPECT_TRUE(absl::IsFailedPrecondition(s.status()));
  EXPECT_NE(s.status().message().find("AWS_PROFILE='nope'"), std::string::npos);
}

TEST_F(S3SettingsTest, NoCredentialsSaysWhereItLookedAndAnonymousNeedsNone) {
  auto s = Resolve("s3://b/p");
  ASSERT_TRUE(absl::IsFailedPrecondition(s.status()));
  EXPECT_NE(s.status().message().find("HFSHIM_S3_ANONYMOUS=1"), std::string::npos);
  config_.s3_anonymous = true;
  s = Resolve("s3://b/p");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->anonymous);
}

TEST_F(S3SettingsTest, BadUrlsAndEndpoints) {
  vars_ = {{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "S"}};
  EXPECT_TRUE(absl::IsInvalidArgument(Resolve("s3://").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Resolve("s3:///x").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Resolve("s3://bad bucket/x").status()));
  vars_["AWS_ENDPOINT_URL"] = "ftp://x";
  EXPECT_TRUE(absl::IsInvalidArgument(Resolve("s3://b").status()));
  vars_["AWS_ENDPOINT_URL"] = "http://host/path";
  EXPECT_TRUE(absl::IsInvalidArgument(Resolve("s3://b").status()));
}

}  // namespace
}  // namespace hfshim
