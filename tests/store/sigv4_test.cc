// SigV4 against AWS's published vectors: the aws-sig-v4-test-suite cases (credentials
// AKIDEXAMPLE, region us-east-1, service "service", 20150830T123600Z) and the S3 GET Object
// example of the S3 SigV4 documentation (examplebucket, Range: bytes=0-9).
#include "core/store/s3/sigv4.h"

#include "absl/strings/escaping.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"

namespace hfshim {
namespace {

const SigV4Credentials kSuiteKey = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr char kSuiteDate[] = "20150830T123600Z";
constexpr char kSuitePrefix[] =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

SigV4Request SuiteGet(QueryParams query) {
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.query = std::move(query);
  r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kSuiteDate}};
  r.payload_hash = kEmptySha256;
  return r;
}

TEST(Sha256, NistVectors) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 h;  // the same digest fed in pieces
  h.Update("abcdbcdecdefdefgefgh");
  h.Update("fghighijhijkijkljklmklmnlmnomnopnopq");
  EXPECT_EQ(h.HexDigest(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HmacSha256, Rfc4231Case2) {
  EXPECT_EQ(absl::BytesToHexString(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(SigV4Suite, GetVanilla) {
  const SigV4Request r = SuiteGet({});
  std::string signed_headers;
  EXPECT_EQ(CanonicalRequest(r, &signed_headers),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n" +
                std::string(kEmptySha256));
  EXPECT_EQ(Sha256Hex(CanonicalRequest(r, &signed_headers)),
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(SigV4Authorization(kSuiteKey, "us-east-1", "service", kSuiteDate, r),
            std::string(kSuitePrefix) +
                "SignedHeaders=host;x-amz-date, "
                "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Suite, GetVanillaQueryOrderKey) {
  // GET /?Param1=value2&Param1=Value1: same name, sorted by value (byte order: 'V' < 'v').
  const SigV4Request r = SuiteGet({{"Param1", "value2"}, {"Param1", "Value1"}});
  std::string signed_headers;
  EXPECT_NE(CanonicalRequest(r, &signed_headers).find("\nParam1=Value1&Param1=value2\n"),
            std::string::npos);
  EXPECT_EQ(SigV4Authorization(kSuiteKey, "us-east-1", "service", kSuiteDate, r),
            std::string(kSuitePrefix) +
                "SignedHeaders=host;x-amz-date, "
                "Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1");
}

TEST(SigV4Suite, GetVanillaQueryOrderKeyCase) {
  const SigV4Request r = SuiteGet({{"Param2", "value2"}, {"Param1", "value1"}});
  EXPECT_EQ(SigV4Authorization(kSuiteKey, "us-east-1", "service", kSuiteDate, r),
            std::string(kSuitePrefix) +
                "SignedHeaders=host;x-amz-date, "
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4Suite, GetHeaderValueTrim) {
  SigV4Request r = SuiteGet({});
  r.headers = {{"Host", "example.amazonaws.com"},
               {"My-Header1", " value1"},
               {"My-Header2", " \"a   b   c\""},
               {"X-Amz-Date", kSuiteDate}};
  std::string signed_headers;
  const std::string canonical = CanonicalRequest(r, &signed_headers);
  EXPECT_NE(canonical.find("\nmy-header1:value1\nmy-header2:\"a b c\"\n"), std::string::npos)
      << canonical;
  EXPECT_EQ(SigV4Authorization(kSuiteKey, "us-east-1", "service", kSuiteDate, r),
            std::string(kSuitePrefix) +
                "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
                "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

TEST(SigV4Suite, PostXWwwFormUrlencoded) {
  SigV4Request r;
  r.method = "POST";
  r.canonical_uri = "/";
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
               {"Host", "example.amazonaws.com"},
               {"X-Amz-Date", kSuiteDate}};
  r.payload_hash = Sha256Hex("Param1=value1");
  EXPECT_EQ(r.payload_hash, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_EQ(SigV4Authorization(kSuiteKey, "us-east-1", "service", kSuiteDate, r),
            std::string(kSuitePrefix) +
                "SignedHeaders=content-type;host;x-amz-date, "
                "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

TEST(SigV4Suite, WrongSecretChangesTheSignature) {
  SigV4Credentials wrong = kSuiteKey;
  wrong.secret_access_key.back() = 'X';
  EXPECT_EQ(SigV4Authorization(wrong, "us-east-1", "service", kSuiteDate, SuiteGet({}))
                .find("5fa00fa31553b73ebf"),
            std::string::npos);
}

TEST(SigV4S3, GetObjectExampleFromTheS3Docs) {
  const SigV4Credentials key = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                ""};
  SigV4Request r;
  r.method = "GET";
  r.canonical_uri = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", kEmptySha256},
               {"x-amz-date", "20130524T000000Z"}};
  r.payload_hash = kEmptySha256;
  std::string signed_headers;
  EXPECT_EQ(Sha256Hex(CanonicalRequest(r, &signed_headers)),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(SigV4Authorization(key, "us-east-1", "s3", "20130524T000000Z", r),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(UriEncode, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(UriEncode("a-b_c.d~e/f g+h$%", false), "a-b_c.d~e/f%20g%2Bh%24%25");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");
}

TEST(CanonicalQueryString, EncodesAndSorts) {
  EXPECT_EQ(CanonicalQueryString({{"prefix", "heads/"}, {"list-type", "2"}, {"uploads", ""}}),
            "list-type=2&prefix=heads%2F&uploads=");
}

TEST(AmzDate, FormatsUtc) {
  EXPECT_EQ(
      AmzDate(absl::FromCivil(absl::CivilSecond(2015, 8, 30, 12, 36, 0), absl::UTCTimeZone())),
      "20150830T123600Z");
}

}  // namespace
}  // namespace hfshim
