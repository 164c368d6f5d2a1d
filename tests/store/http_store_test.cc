// The read-only HTTP store against a range-capable static server (fault_proxy.py --root) serving
// a local store directory, and fallback lists (mirror first, primary last).
#include "core/store/http/http_store.h"

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "core/base/posix_error.h"
#include "core/index/generation.h"
#include "core/store/fallback_store.h"
#include "core/store/layout.h"
#include "core/store/local_store.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_servers.h"

namespace hfshim {
namespace {

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

std::string HeadText(uint64_t n) {
  return EncodeHead(HeadRecord{n, IndexKey(ContentHash(absl::StrCat("gen", n))), 1, n});
}

class HttpStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mirror_dir_ = dir_.Sub("mirror");
    primary_dir_ = dir_.Sub("primary");
    mirror_local_ = NewLocalStore(mirror_dir_);
    primary_ = NewLocalStore(primary_dir_);
    auto server = FaultProxyProcess::Serving(mirror_dir_, dir_.path());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    HttpLimits limits;
    limits.connect_timeout_seconds = 1;
    auto http = NewHttpStore(server_->endpoint() + "/", limits);
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
  }

  TempDir dir_;
  std::string mirror_dir_, primary_dir_;
  std::unique_ptr<ObjectStore> mirror_local_, primary_, http_;
  std::unique_ptr<FaultProxyProcess> server_;
};

TEST_F(HttpStoreTest, ReadsRangesAndSizes) {
  const std::string data(100000, 'x');
  ASSERT_TRUE(mirror_local_->Put("packs/a b", data + "tail", Soon()).ok());
  auto info = http_->Head("packs/a b", Soon());
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size, data.size() + 4);
  std::string out;
  ASSERT_TRUE(http_->GetRange("packs/a b", data.size(), 4, &out, Soon()).ok());
  EXPECT_EQ(out, "tail");
  EXPECT_TRUE(absl::IsOutOfRange(http_->GetRange("packs/a b", data.size(), 5, &out, Soon())));
  EXPECT_TRUE(absl::IsOutOfRange(http_->GetRange("packs/a b", data.size() + 9, 1, &out, Soon())));
  EXPECT_TRUE(absl::IsNotFound(http_->GetRange("packs/none", 0, 1, &out, Soon())));
  EXPECT_TRUE(absl::IsNotFound(http_->Head("packs/none", Soon()).status()));
  EXPECT_EQ(http_->Describe(), server_->endpoint());
}

TEST_F(HttpStoreTest, WritesSayItIsReadOnly) {
  absl::Status s = http_->Put("k", "v", Soon());
  EXPECT_EQ(StatusToErrno(s), EROFS) << s;
  EXPECT_NE(s.message().find("read-only"), std::string::npos);
  EXPECT_EQ(StatusToErrno(http_->PutIfAbsent(HeadKey(1), "v", Soon())), EROFS);
  EXPECT_EQ(StatusToErrno(http_->PutFile("k", "/etc/hostname", Soon())), EROFS);
  EXPECT_EQ(server_->Count("PUT"), 0);
}

TEST_F(HttpStoreTest, ListsHeadsByProbingAndNothingElse) {
  auto none = http_->List("heads/", Soon());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  for (uint64_t n = 1; n <= 13; ++n) {
    ASSERT_TRUE(mirror_local_->PutIfAbsent(HeadKey(n), HeadText(n), Soon()).ok());
  }
  server_->ResetCount();
  auto heads = http_->List("heads/", Soon());
  ASSERT_TRUE(heads.ok()) << heads.status();
  ASSERT_EQ(heads->size(), 1u);
  EXPECT_EQ((*heads)[0].key, HeadKey(13));
  EXPECT_LE(server_->Count("HEAD"), 10);  // logarithmic, not 14 probes
  auto latest = FindLatestHead(http_.get(), Soon());
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->sequence, 13u);
  EXPECT_TRUE(absl::IsUnimplemented(http_->List("packs/", Soon()).status()));
}

TEST_F(HttpStoreTest, ServerErrorsAndShortBodiesAreUnavailable) {
  ASSERT_TRUE(mirror_local_->Put("k", "value", Soon()).ok());
  server_->Arm("status503", 1000, "GET");
  std::string out;
  EXPECT_TRUE(absl::IsUnavailable(http_->GetRange("k", 0, 5, &out, Soon())));
  server_->Disarm();
  server_->Arm("truncate", 1, "GET");
  EXPECT_TRUE(absl::IsUnavailable(http_->GetRange("k", 0, 5, &out, Soon())));
  ASSERT_TRUE(http_->GetRange("k", 0, 5, &out, Soon()).ok());
  EXPECT_EQ(out, "value");
}

TEST_F(HttpStoreTest, FallbackReadsTheMirrorFirstThenThePrimary) {
  ASSERT_TRUE(mirror_local_->Put("packs/on-both", "mirror copy", Soon()).ok());
  ASSERT_TRUE(primary_->Put("packs/on-both", "primary copy", Soon()).ok());
  ASSERT_TRUE(primary_->Put("packs/primary-only", "from primary", Soon()).ok());
  Config config;
  config.connect_timeout_seconds = 1;
  config.retries = 2;
  auto store = OpenStore(absl::StrCat(server_->endpoint(), ",file://", primary_dir_), config);
  ASSERT_TRUE(store.ok()) << store.status();
  std::string out;
  ASSERT_TRUE((*store)->GetRange("packs/on-both", 0, 11, &out, Soon()).ok());
  EXPECT_EQ(out, "mirror copy");
  ASSERT_TRUE((*store)->GetRange("packs/primary-only", 0, 12, &out, Soon()).ok());
  EXPECT_EQ(out, "from primary");
  EXPECT_EQ((*store)->Head("packs/primary-only", Soon())->size, 12u);
  // A failing mirror (after one retry) falls back to the primary too.
  server_->ResetCount();
  server_->Arm("status500", 1000);
  ASSERT_TRUE((*store)->GetRange("packs/on-both", 0, 12, &out, Soon()).ok());
  EXPECT_EQ(out, "primary copy");
  EXPECT_EQ(server_->Count("GET"), 2);
  server_->Disarm();
  // Missing everywhere: NotFound naming both stores.
  absl::Status s = (*store)->GetRange("packs/none", 0, 1, &out, Soon());
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_NE(s.message().find(primary_dir_), std::string::npos) << s;
  // Writes go to the primary.
  ASSERT_TRUE((*store)->Put("packs/new", "n", Soon()).ok());
  EXPECT_TRUE(primary_->Head("packs/new", Soon()).ok());
  ASSERT_TRUE((*store)->PutIfAbsent(HeadKey(1), HeadText(1), Soon()).ok());
  EXPECT_TRUE(absl::IsNotFound(mirror_local_->Head(HeadKey(1), Soon()).status()));
}

TEST_F(HttpStoreTest, FallbackListsFromThePrimaryAndFromAMirrorWhenItFails) {
  HttpLimits limits;
  limits.connect_timeout_seconds = 1;
  std::vector<std::unique_ptr<ObjectStore>> stores;
  stores.push_back(*NewHttpStore(server_->endpoint(), limits));
  stores.push_back(NewLocalStore(primary_dir_));
  auto fallback = NewFallbackStore(std::move(stores));
  for (uint64_t n = 1; n <= 3; ++n) {
    ASSERT_TRUE(primary_->PutIfAbsent(HeadKey(n), HeadText(n), Soon()).ok());
  }
  ASSERT_TRUE(mirror_local_->PutIfAbsent(HeadKey(1), HeadText(1), Soon()).ok());
  auto latest = FindLatestHead(fallback.get(), Soon());  // the primary decides what is current
  ASSERT_TRUE(latest.ok() && latest->has_value()) << latest.status();
  EXPECT_EQ((*latest)->sequence, 3u);
  EXPECT_EQ(fallback->Describe(), absl::StrCat(server_->endpoint(), ",file://", primary_dir_));

  // The primary is unreachable: the mirror's (older, complete) heads are used.
  stores.clear();
  stores.push_back(*NewHttpStore(server_->endpoint(), limits));
  stores.push_back(*NewHttpStore(absl::StrCat("http://127.0.0.1:", FreeLoopbackPort()), limits));
  fallback = NewFallbackStore(std::move(stores));
  latest = FindLatestHead(fallback.get(), Soon());
  ASSERT_TRUE(latest.ok() && latest->has_value()) << latest.status();
  EXPECT_EQ((*latest)->sequence, 1u);
}

// HTTPS with a private CA: trusted through the CA bundle, and a clear error without it.
TEST(HttpsStore, HonoursTheCaBundleAndSaysWhatToSetWithoutIt) {
  TempDir dir;
  const std::string cert = dir.Sub("cert.pem"), key = dir.Sub("key.pem");
  const std::string cmd = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout ",
      key, " -out ", cert, " >/dev/null 2>&1");
  ASSERT_EQ(system(cmd.c_str()), 0) << "openssl (Debian package openssl) is needed: " << cmd;
  auto local = NewLocalStore(dir.Sub("root"));
  ASSERT_TRUE(local->Put("packs/p", "over tls", Soon()).ok());
  auto server = FaultProxyProcess::ServingTls(dir.Sub("root"), cert, key, dir.path());
  ASSERT_TRUE(server.ok()) << server.status();

  HttpLimits trusted;
  trusted.ca_bundle = cert;
  std::string out;
  ASSERT_TRUE((*NewHttpStore((*server)->endpoint(), trusted))
                  ->GetRange("packs/p", 0, 8, &out, Soon())
                  .ok());
  EXPECT_EQ(out, "over tls");

  HttpLimits system_cas;  // the system's CAs do not know this certificate
  absl::Status s =
      (*NewHttpStore((*server)->endpoint(), system_cas))->GetRange("packs/p", 0, 8, &out, Soon());
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("AWS_CA_BUNDLE or CURL_CA_BUNDLE"), std::string::npos) << s;

  // OpenStore takes the bundle from AWS_CA_BUNDLE, then CURL_CA_BUNDLE.
  const char* saved_aws = getenv("AWS_CA_BUNDLE");
  const char* saved_curl = getenv("CURL_CA_BUNDLE");
  const std::string aws = saved_aws ? saved_aws : "", curl = saved_curl ? saved_curl : "";
  unsetenv("AWS_CA_BUNDLE");
  setenv("CURL_CA_BUNDLE", cert.c_str(), 1);
  EXPECT_EQ(CaBundleFromEnvironment(), cert);
  auto opened = OpenStore((*server)->endpoint(), Config());
  ASSERT_TRUE(opened.ok());
  EXPECT_TRUE((*opened)->GetRange("packs/p", 0, 8, &out, Soon()).ok());
  setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem", 1);
  EXPECT_EQ(CaBundleFromEnvironment(), "/nonexistent/ca.pem");
  saved_aws ? (void)setenv("AWS_CA_BUNDLE", aws.c_str(), 1) : (void)unsetenv("AWS_CA_BUNDLE");
  saved_curl ? (void)setenv("CURL_CA_BUNDLE", curl.c_str(), 1) : (void)unsetenv("CURL_CA_BUNDLE");
}

TEST(HttpStoreUrl, UnknownHostsSayDns) {
  auto store = NewHttpStore("http://hfshim-no-such-host.invalid/x", {});
  ASSERT_TRUE(store.ok());
  absl::Status s = (*store)->Head("k", absl::Now() + absl::Seconds(10)).status();
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("cannot resolve host hfshim-no-such-host.invalid"), std::string::npos)
      << s;
}

TEST(HttpStoreUrl, MessagesNeverShowPasswords) {
  EXPECT_EQ(UrlForMessages("https://user:pw@host:8/a/b?x=1"), "https://host:8/a/b");
  EXPECT_EQ(UrlForMessages("http://host/a@b"), "http://host/a@b");
  auto store = NewHttpStore("https://user:secret@127.0.0.1:1/mirror", {});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->Describe(), "https://127.0.0.1:1/mirror");
  std::string out;
  absl::Status s = (*store)->GetRange("k", 0, 1, &out, absl::Now() + absl::Seconds(5));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_EQ(s.message().find("secret"), std::string::npos) << s;
}

TEST(HttpStoreUrl, RejectsWhatIsNotAPlainHttpUrl) {
  EXPECT_TRUE(absl::IsInvalidArgument(NewHttpStore("ftp://x/y", {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(NewHttpStore("http://", {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(NewHttpStore("http://h/p?q=1", {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(OpenStore("http://h/a,,file:///x", Config()).status()));
}

}  // namespace
}  // namespace hfshim
