#include "core/store/s3/s3_xml.h"

#include "gtest/gtest.h"

namespace hfshim {
namespace {

TEST(S3Xml, ParsesAListingPageWithEntities) {
  const char* xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
      "<Prefix>p/heads/</Prefix><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>tok&amp;en</NextContinuationToken>"
      "<Contents><Key>p/heads/00000000000000000001</Key><Size>42</Size></Contents>"
      "<Contents><Key>p/a&amp;b &lt;c&gt; &#233;&#x41;</Key><Size>0</Size></Contents>"
      "</ListBucketResult>";
  auto page = ParseListObjectsV2(xml);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "p/heads/00000000000000000001");
  EXPECT_EQ(page->objects[0].size, 42u);
  EXPECT_EQ(page->objects[1].key,
            "p/a&b <c> \xc3\xa9"
            "A");
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_token, "tok&en");
}

TEST(S3Xml, EmptyListing) {
  auto page =
      ParseListObjectsV2("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->objects.empty());
  EXPECT_FALSE(page->truncated);
}

TEST(S3Xml, RejectsWhatIsNotAListing) {
  EXPECT_TRUE(absl::IsDataLoss(ParseListObjectsV2("<html>proxy error</html>").status()));
  EXPECT_TRUE(absl::IsDataLoss(
      ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key><Size>x</Size></Contents>"
                         "</ListBucketResult>")
          .status()));
  EXPECT_TRUE(absl::IsDataLoss(
      ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")
          .status()));
}

TEST(S3Xml, ErrorDocumentFields) {
  const char* xml =
      "<Error><Code>PermanentRedirect</Code><Message>Use the right endpoint</Message>"
      "<Region>eu-west-1</Region></Error>";
  EXPECT_EQ(XmlText(xml, "Code"), "PermanentRedirect");
  EXPECT_EQ(XmlText(xml, "Region"), "eu-west-1");
  EXPECT_EQ(XmlText(xml, "Missing"), "");
}

TEST(S3Xml, EscapeRoundTrips) {
  EXPECT_EQ(XmlEscape("\"a\"&<b>'"), "&quot;a&quot;&amp;&lt;b&gt;&apos;");
  EXPECT_EQ(XmlUnescape(XmlEscape("\"a\"&<b>'")), "\"a\"&<b>'");
  EXPECT_EQ(XmlUnescape("a & b &bogus; &#;"), "a & b &bogus; &#;");
}

}  // namespace
}  // namespace hfshim
