#include "core/store/s3/s3_xml.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace hfshim {
namespace {

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::vector<absl::string_view> XmlElements(absl::string_view xml, absl::string_view tag) {
  std::vector<absl::string_view> out;
  const std::string open = absl::StrCat("<", tag, ">");
  const std::string empty = absl::StrCat("<", tag, "/>");
  const std::string close = absl::StrCat("</", tag, ">");
  size_t pos = 0;
  while (true) {
    const size_t a = xml.find(open, pos);
    const size_t e = xml.find(empty, pos);
    if (e != absl::string_view::npos && (a == absl::string_view::npos || e < a)) {
      out.push_back(absl::string_view());
      pos = e + empty.size();
      continue;
    }
    if (a == absl::string_view::npos) break;
    const size_t start = a + open.size();
    const size_t b = xml.find(close, start);
    if (b == absl::string_view::npos) break;
    out.push_back(xml.substr(start, b - start));
    pos = b + close.size();
  }
  return out;
}

std::string XmlText(absl::string_view xml, absl::string_view tag) {
  const std::string open = absl::StrCat("<", tag, ">");
  const size_t a = xml.find(open);
  if (a == absl::string_view::npos) return "";
  const size_t start = a + open.size();
  const size_t b = xml.find(absl::StrCat("</", tag, ">"), start);
  if (b == absl::string_view::npos) return "";
  return XmlUnescape(xml.substr(start, b - start));
}

std::string XmlUnescape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    const size_t semi = text.find(';', i);
    if (semi == absl::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    const absl::string_view name = text.substr(i + 1, semi - i - 1);
    uint32_t cp = 0;
    if (name == "amp") {
      out.push_back('&');
    } else if (name == "lt") {
      out.push_back('<');
    } else if (name == "gt") {
      out.push_back('>');
    } else if (name == "quot") {
      out.push_back('"');
    } else if (name == "apos") {
      out.push_back('\'');
    } else if (name.size() > 2 && (name[1] == 'x' || name[1] == 'X') && name[0] == '#' &&
               absl::SimpleHexAtoi(name.substr(2), &cp)) {
      AppendUtf8(cp, &out);
    } else if (name.size() > 1 && name[0] == '#' && absl::SimpleAtoi(name.substr(1), &cp)) {
      AppendUtf8(cp, &out);
    } else {
      out.push_back('&');
      continue;
    }
    i = semi;
  }
  return out;
}

std::string XmlEscape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<ListPage> ParseListObjectsV2(absl::string_view xml) {
  if (xml.find("<ListBucketResult") == absl::string_view::npos) {
    return absl::DataLossError(
        absl::StrCat("not a ListObjectsV2 result: '", xml.substr(0, 120), "'"));
  }
  ListPage page;
  for (absl::string_view contents : XmlElements(xml, "Contents")) {
    ObjectInfo info;
    info.key = XmlText(contents, "Key");
    info.etag = XmlText(contents, "ETag");
    if (!absl::SimpleAtoi(XmlText(contents, "Size"), &info.size) || info.key.empty()) {
      return absl::DataLossError(
          absl::StrCat("bad <Contents> in a listing: '", contents.substr(0, 120), "'"));
    }
    page.objects.push_back(std::move(info));
  }
  page.truncated = absl::AsciiStrToLower(XmlText(xml, "IsTruncated")) == "true";
  page.next_token = XmlText(xml, "NextContinuationToken");
  if (page.truncated && page.next_token.empty()) {
    return absl::DataLossError("a truncated listing carries no NextContinuationToken");
  }
  return page;
}

}  // namespace hfshim
