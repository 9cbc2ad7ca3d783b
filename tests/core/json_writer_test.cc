#include "core/json_writer.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/json_parse_back.h"

namespace tallywire {
namespace {

using ::tallywire::testing::ParseJsonBack;

std::string AsJsonString(const std::string& s) {
  JsonWriter w;
  w.String(s);
  return std::move(w).Finish();
}

TEST(JsonWriter, ReplacesEachMaximalInvalidSubpartWithOneReplacementCharacter) {
  struct Case {
    std::string in, want;  // want: Python's ensure_ascii rendering
  };
  const Case cases[] = {
      {"Caf\xe9", "\"Caf\\ufffd\""},
      {"Caf\xc3\xa9", "\"Caf\\u00e9\""},
      {"\x80\xbf", "\"\\ufffd\\ufffd\""},                        // lone continuation bytes
      {"\xc0\xaf", "\"\\ufffd\\ufffd\""},                        // overlong '/'
      {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},             // overlong, 3 bytes
      {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},             // a UTF-16 surrogate
      {"\xe2\x82", "\"\\ufffd\""},                               // truncated: one subpart
      {"\xe2\x82x", "\"\\ufffdx\""},                             // truncated mid-string
      {"\xf0\x9f\x98", "\"\\ufffd\""},                           // truncated 4-byte
      {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},  // past U+10FFFF
      {"\xf5\xff", "\"\\ufffd\\ufffd\""},
      {"\xe6\x97\xa5\xf0\x9f\x98\x80", "\"\\u65e5\\ud83d\\ude00\""},
      {"\xef\xbf\xbd", "\"\\ufffd\""},  // U+FFFD itself is valid
      {"q\"b\\s/", "\"q\\\"b\\\\s/\""},
      {std::string("\0\x01\x1f\x7f\t\n\r", 7), "\"\\u0000\\u0001\\u001f\\u007f\\t\\n\\r\""},
  };
  for (const Case& c : cases) {
    const std::string doc = AsJsonString(c.in);
    const auto [ok, back] = ParseJsonBack(doc);
    ASSERT_TRUE(ok) << back << " for " << doc;
    EXPECT_EQ(back, c.want) << doc;
    EXPECT_EQ(doc, AsJsonString(c.in));  // deterministic
  }
}

TEST(JsonWriter, EveryByteValueAndEveryTwoByteSequenceGivesAValidDocument) {
  std::string all;
  for (int a = 0; a < 256; ++a) {
    all.push_back(static_cast<char>(a));
    for (int b = 0; b < 256; b += 5) {
      all.push_back(static_cast<char>(a));
      all.push_back(static_cast<char>(b));
      all.push_back(' ');
    }
  }
  JsonWriter w;
  w.BeginArray().String(all).String(all.substr(1)).String(all.substr(2)).EndArray();
  const auto [ok, back] = ParseJsonBack(std::move(w).Finish());
  EXPECT_TRUE(ok) << back.substr(0, 300);
}

TEST(JsonWriter, WritesCompactObjectsArraysAndNumbers) {
  JsonWriter w;
  w.BeginObject().Key("a").Int(-3).Key("b").Double(48.10019, 4).Key("c").BeginArray();
  w.Bool(true).Bool(false).Null().Double(1.0 / 0.0, 2).Double(0.0 / 0.0, 2).EndArray();
  w.Key("d").BeginObject().EndObject().Key("e").BeginArray().EndArray();
  w.Key("f").Document("{\"x\":1}").EndObject();
  const std::string doc = std::move(w).Finish();
  EXPECT_EQ(doc,
            "{\"a\":-3,\"b\":48.1002,\"c\":[true,false,null,null,null],\"d\":{},\"e\":[],"
            "\"f\":{\"x\":1}}");
  EXPECT_TRUE(ParseJsonBack(doc).first);
}

TEST(JsonWriter, MisuseStillYieldsOneValidDocument) {
  {
    JsonWriter w;  // left open, a key without a value
    w.BeginObject().Key("a").BeginArray().Int(1).EndObject();
    w.Key("dangling");
    EXPECT_EQ(std::move(w).Finish(), "{\"a\":[1]}");  // EndObject in an array: ignored
  }
  {
    JsonWriter w;
    w.BeginObject().Key("k");
    EXPECT_EQ(std::move(w).Finish(), "{\"k\":null}");
  }
  {
    JsonWriter w;  // a value with no key; a second top-level value
    w.BeginObject().Int(1).EndObject().Int(2).EndArray();
    EXPECT_EQ(std::move(w).Finish(), "{\"\":1}");
  }
  EXPECT_EQ(JsonWriter().Finish(), "null");
  EXPECT_EQ(JsonEscape("a\"\xe9"), "a\\\"\xef\xbf\xbd");
}

}  // namespace
}  // namespace tallywire
