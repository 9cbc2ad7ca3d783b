#include "producers/social/posts.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace tallywire {
namespace {

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

const char kPost[] =
    R"({"id":"p1","author":"ann","created_at":"2017-04-18T23:00:00Z","text":"Ossoff leads",)"
    R"("lang":"en","reply":true,"repost":false,"county":"Cobb",)"
    R"("counts":{"likes":3,"reposts":2,"replies":1}})";

TEST(PostsJsonl, ReadsEveryFieldTheReaderDocuments) {
  absl::StatusOr<PostEvent> p = ParsePostJson(kPost);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, "p1");
  EXPECT_EQ(p->author, "ann");
  EXPECT_EQ(p->created_at_ms, 1492556400000);
  EXPECT_EQ(p->text, "Ossoff leads");
  EXPECT_EQ(p->lang, "en");
  EXPECT_EQ(p->county, "Cobb");
  EXPECT_TRUE(p->is_reply);
  EXPECT_FALSE(p->is_repost);
  EXPECT_EQ(p->likes, 3);
  EXPECT_EQ(p->reposts, 2);
  EXPECT_EQ(p->replies, 1);
  // Unix ms, a numeric id, top-level counts, escapes with a surrogate pair.
  p = ParsePostJson(R"({"id":1234567890123456789,"author":"b","created_at":1492556400123,)"
                    R"("text":"caf\u00e9 \ud83d\uddf3 \"q\"","is_repost":true,"likes":7})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, "1234567890123456789");
  EXPECT_EQ(p->created_at_ms, 1492556400123);
  EXPECT_EQ(p->text, "caf\xc3\xa9 \xf0\x9f\x97\xb3 \"q\"");
  EXPECT_TRUE(p->is_repost);
  EXPECT_EQ(p->likes, 7);
  // No id: a stable hash, so a replay dedupes.
  absl::StatusOr<PostEvent> a = ParsePostJson(R"({"author":"a","created_at":1,"text":"t"})");
  absl::StatusOr<PostEvent> b = ParsePostJson(R"({"text":"t","created_at":1,"author":"a"})");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(a->id.size(), 17u);
}

// Real exports wrap the post's neighbours (user, entities, media) several
// levels deep; the reader takes its fields by name and ignores the rest.
TEST(PostsJsonl, PostsNestedFourLevelsDeepAreAccepted) {
  absl::StatusOr<PostEvent> p = ParsePostJson(
      R"({"id":"n1","author":"ann","created_at":1492556400000,"text":"hi",)"
      R"("user":{"profile":{"links":[{"url":{"expanded":"x","display":["a",[1,{"b":null}]]}}]}},)"
      R"("counts":{"likes":5,"extra":{"a":{"b":{"c":{}}}}}})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, "n1");
  EXPECT_EQ(p->likes, 5);
}

TEST(PostsJsonl, RejectsInvalidUtf8AndMalformedNumbers) {
  for (const std::string& bad : {
           std::string(R"({"author":"a","created_at":1,"text":"Caf)") + "\xe9" + "\"}",
           std::string(R"({"author":"a","created_at":1,"text":"ok","note":")") + "\xff\xfe" + "\"}",
           std::string(R"({"author":"a","created_at":1,"text":"\ud800"})"),
           std::string(R"({"id":1-2-3e+,"author":"a","created_at":1,"text":"t"})"),
           std::string(R"({"id":1.5,"author":"a","created_at":1,"text":"t"})"),
           std::string(R"({"author":"a","created_at":1,"text":"t","likes":1e3})"),
           std::string(R"({"author":"a","created_at":1,"text":"t"} trailing)"),
           std::string(R"({"author":"a","created_at":1,"text":"t")"),
           std::string(R"(["author","a"])"),
       }) {
    EXPECT_FALSE(ParsePostJson(bad).ok()) << bad;
  }
  const std::string path =
      WriteFile("bad_utf8.jsonl",
                std::string(R"({"author":"a","created_at":1492556400000,"text":"fine"})") + "\n" +
                    R"({"author":"a","created_at":1492556400000,"text":"Caf)" + "\xe9" + "\"}\n" +
                    R"({"id":1-2-3e+,"author":"a","created_at":1492556400000,"text":"t"})" + "\n" +
                    R"({"author":"b","created_at":1492556400000,"text":"also fine"})" + "\n");
  PostsReport report;
  auto aborted = ReadPostsJsonl({path}, {}, &report);
  ASSERT_FALSE(aborted.ok());
  EXPECT_NE(aborted.status().message().find(path + ":2: "), absl::string_view::npos)
      << aborted.status();
  EXPECT_NE(aborted.status().message().find("UTF-8"), absl::string_view::npos) << aborted.status();
  PostsReport skip;
  auto posts = ReadPostsJsonl({path}, {.on_error = OnError::kSkip}, &skip);
  ASSERT_TRUE(posts.ok()) << posts.status();
  EXPECT_EQ(posts->size(), 2u);
  EXPECT_EQ(skip.skipped, 2);
  ASSERT_EQ(skip.errors.size(), 2u);
  EXPECT_NE(skip.errors[1].find(path + ":3: "), std::string::npos) << skip.errors[1];
}

// The codec refuses counts above kMaxCount, so such a post would only ever
// reach the dead-letter topic as "undecodable"; the reader says why, on its line.
TEST(PostsJsonl, CountsAboveTheCodecsLimitAreALineError) {
  absl::StatusOr<PostEvent> p = ParsePostJson(absl::StrCat(
      R"({"author":"a","created_at":1,"text":"t","counts":{"likes":)", kMaxCount + 1, "}}"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("\"likes\""), absl::string_view::npos) << p.status();
  EXPECT_FALSE(
      ParsePostJson(R"({"author":"a","created_at":1,"text":"t","reposts":9223372036854775807})")
          .ok());
  p = ParsePostJson(
      absl::StrCat(R"({"author":"a","created_at":1,"text":"t","replies":)", kMaxCount, "}"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->replies, kMaxCount);
}

// A created_at far in the future makes every later post "late" downstream;
// one before 1970 is a unit mistake. Both stop at the reader, on their line.
TEST(PostsJsonl, ImplausibleCreatedAtIsAnErrorOnItsLine) {
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  for (const std::string& when : {
           std::string("9223372036854775807"),
           std::string("18446744073709551615"),
           std::string("-1"),
           std::string("\"9999-12-31T23:59:59Z\""),
           std::string("\"1969-12-31T23:59:59Z\""),
           absl::StrCat(now_ms + 2 * 86'400'000),
       }) {
    const std::string line = absl::StrCat(R"({"author":"a","text":"t","created_at":)", when, "}");
    absl::StatusOr<PostEvent> p = ParsePostJson(line);
    EXPECT_FALSE(p.ok()) << line << " -> " << p->created_at_ms;
    if (!p.ok()) {
      EXPECT_NE(p.status().message().find("created_at"), absl::string_view::npos) << p.status();
    }
  }
  // The bound: up to a day ahead of the clock is skew, not a lie.
  EXPECT_TRUE(ParsePostJson(absl::StrCat(R"({"author":"a","text":"t","created_at":)",
                                         now_ms + 3'600'000, "}"))
                  .ok());
  EXPECT_TRUE(ParsePostJson(R"({"author":"a","text":"t","created_at":0})").ok());
  const std::string path =
      WriteFile("future.jsonl", R"({"author":"a","text":"t","created_at":"9999-12-31T23:59:59Z"})"
                                "\n"
                                R"({"author":"a","text":"t","created_at":1492556400000})"
                                "\n");
  PostsReport skip;
  auto posts = ReadPostsJsonl({path}, {.on_error = OnError::kSkip}, &skip);
  ASSERT_TRUE(posts.ok()) << posts.status();
  EXPECT_EQ(posts->size(), 1u);
  ASSERT_EQ(skip.errors.size(), 1u);
  EXPECT_NE(skip.errors[0].find(path + ":1: "), std::string::npos) << skip.errors[0];
}

}  // namespace
}  // namespace tallywire
