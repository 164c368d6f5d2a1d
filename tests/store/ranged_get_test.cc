// RangeFeeder: streamed bodies of ranged GETs reach the sink only as the exact range asked for.
#include "core/store/http/ranged_get.h"

#include "gtest/gtest.h"

namespace hfshim {
namespace {

HttpResponse Head(int status, const std::string& content_range = "") {
  HttpResponse r;
  r.status = status;
  if (!content_range.empty()) r.headers.emplace_back("content-range", content_range);
  return r;
}

// Feeds `body` in pieces of `piece` bytes; the first error.
absl::Status Feed(RangeFeeder& f, const HttpResponse& head, absl::string_view body, size_t piece) {
  for (size_t at = 0; at < body.size(); at += piece) {
    if (absl::Status s = f.OnBody(head, body.substr(at, piece)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

TEST(RangeFeederTest, PartialContentGoesToTheSink) {
  std::string out(5, '\0');
  BufferSink sink(absl::MakeSpan(out));
  RangeFeeder f(10, 5, "obj", &sink);
  const HttpResponse head = Head(206, "bytes 10-14/100");
  ASSERT_TRUE(Feed(f, head, "abcde", 2).ok());
  EXPECT_TRUE(f.Finish(head).ok());
  EXPECT_EQ(out, "abcde");
}

TEST(RangeFeederTest, WholeObjectFromAServerIgnoringRangeIsCut) {
  std::string out(4, '\0');
  BufferSink sink(absl::MakeSpan(out));
  RangeFeeder f(3, 4, "obj", &sink);
  const HttpResponse head = Head(200);
  ASSERT_TRUE(Feed(f, head, "0123456789", 3).ok());
  EXPECT_TRUE(f.Finish(head).ok());
  EXPECT_EQ(out, "3456");
}

TEST(RangeFeederTest, WrongRangeShortAndLongBodiesAreErrors) {
  std::string out(5, '\0');
  {
    BufferSink sink(absl::MakeSpan(out));
    RangeFeeder f(10, 5, "obj", &sink);
    EXPECT_TRUE(absl::IsUnavailable(f.OnBody(Head(206, "bytes 0-4/100"), "abcde")));
    EXPECT_EQ(sink.filled(), 0u) << "nothing of a wrong range reaches the sink";
  }
  {
    BufferSink sink(absl::MakeSpan(out));
    RangeFeeder f(10, 5, "obj", &sink);
    const HttpResponse head = Head(206, "bytes 10-14/100");
    ASSERT_TRUE(f.OnBody(head, "abc").ok());
    EXPECT_TRUE(absl::IsUnavailable(f.Finish(head))) << "short: retryable";
  }
  {
    BufferSink sink(absl::MakeSpan(out));
    RangeFeeder f(10, 5, "obj", &sink);
    const HttpResponse head = Head(206, "bytes 10-12/13");
    ASSERT_TRUE(f.OnBody(head, "abc").ok());
    EXPECT_TRUE(absl::IsOutOfRange(f.Finish(head))) << "the object ends before the range";
  }
  {
    BufferSink sink(absl::MakeSpan(out));
    RangeFeeder f(10, 5, "obj", &sink);
    EXPECT_FALSE(f.OnBody(Head(206, "bytes 10-15/100"), "abcdef").ok());
  }
  {
    BufferSink sink(absl::MakeSpan(out));
    RangeFeeder f(8, 5, "obj", &sink);
    const HttpResponse head = Head(200);
    ASSERT_TRUE(f.OnBody(head, "0123456789").ok());
    EXPECT_TRUE(absl::IsOutOfRange(f.Finish(head)));
  }
}

}  // namespace
}  // namespace hfshim
