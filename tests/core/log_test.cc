#include "core/log.h"

#include <string>

#include "gtest/gtest.h"

namespace tallywire {
namespace {

std::string Captured(bool json, const std::string& value) {
  SetLogJson(json);
  ::testing::internal::CaptureStderr();
  Log(LogLevel::kWarn, "csv_row_skipped", {{"where", "a.csv:3"}, {"error", value}});
  std::string out = ::testing::internal::GetCapturedStderr();
  SetLogJson(false);
  return out;
}

// A value from input (a CSV cell, a post's text) must not start a second
// line that a log reader takes for an event tallywire never logged.
const std::string kForged =
    "bad\n2026-12-01T00:00:00.000Z ERROR admin_login user=root\r\x1b[2K\x7f end";

// Exactly one line, and no raw control byte a terminal would act on.
void ExpectOneLineWithoutControls(const std::string& out) {
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(out[i]);
    EXPECT_TRUE(c >= 0x20 && c != 0x7f) << "raw control byte " << int(c) << " at " << i;
  }
}

TEST(Log, TextValueWithNewlineOrControlsCannotForgeALine) {
  const std::string out = Captured(false, kForged);
  ExpectOneLineWithoutControls(out);
  EXPECT_NE(out.find("error=\"bad\\n2026-12-01T00:00:00.000Z ERROR admin_login user=root\\r"
                     "\\u001b[2K\\u007f end\""),
            std::string::npos)
      << out;
  // Plain values stay unquoted.
  EXPECT_NE(out.find(" where=a.csv:3 "), std::string::npos) << out;
}

TEST(Log, JsonValueWithNewlineOrControlsCannotForgeALine) {
  const std::string out = Captured(true, kForged);
  ExpectOneLineWithoutControls(out);
  EXPECT_NE(out.find("\"error\":\"bad\\n2026"), std::string::npos) << out;
}

// Bytes that are not UTF-8 would make the JSON line invalid for every
// reader; they become U+FFFD, valid text stays as it is.
TEST(Log, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(JsonEscape("Caf\xe9 ok"), "Caf\xef\xbf\xbd ok");
  EXPECT_EQ(JsonEscape("Caf\xc3\xa9 \xf0\x9f\x97\xb3"), "Caf\xc3\xa9 \xf0\x9f\x97\xb3");
  EXPECT_EQ(JsonEscape("\xc3"), "\xef\xbf\xbd");
  EXPECT_EQ(JsonEscape("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  const std::string out = Captured(false, "Caf\xe9");
  EXPECT_NE(out.find("error=\"Caf\xef\xbf\xbd\""), std::string::npos) << out;
}

}  // namespace
}  // namespace tallywire
