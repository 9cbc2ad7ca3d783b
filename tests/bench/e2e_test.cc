// The end-to-end benchmark's contract: every mode sees the whole input,
// answers are checked before a speed is reported, and the mix knob sends
// what it says.
#include "bench/e2e/e2e.h"

#include "gtest/gtest.h"

namespace tallywire {
namespace {

EndToEndOptions Small(EventMix mix) {
  EndToEndOptions o;
  o.events = 20'000;
  o.rate = 20'000;  // the mock cluster keeps a bounded log: paced, never flat out
  o.mix = mix;
  // One consumer a mode: librdkafka 2.0.2's mock cluster at times holds a
  // two-member JoinGroup for a minute (seen under TSan); groups of two are
  // the pipeline tests' business, the contract here is the bench's.
  o.threads = 1;
  o.shape = {.races = 4, .precincts = 500, .candidates = 2, .versions = 10};
  return o;
}

TEST(EndToEnd, MixedLoadDeliversEveryEventAndChecksTheMentions) {
  const EndToEndOptions o = Small({.tallies = 1, .posts = 4});
  auto results = RunEndToEnd(o);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  for (const EndToEndResult& r : *results) {
    SCOPED_TRACE(r.mode);
    EXPECT_TRUE(r.verified) << r.checked;
    EXPECT_EQ(r.events, 20'000);
    EXPECT_GT(r.events_per_second, 0);
    EXPECT_GT(r.produce_to_applied.p50, 0);
    EXPECT_LE(r.produce_to_applied.p50, r.produce_to_applied.p99);
    EXPECT_GT(r.peak_rss_mb, 0);
  }
  EXPECT_EQ((*results)[1].mode, "tallywire");
  EXPECT_NE((*results)[1].checked.find("mentions by candidate"), std::string::npos);
  const std::string report = FormatReport(o, *results);
  EXPECT_NE(report.find("mix tallies:posts 1:4"), std::string::npos) << report;
  EXPECT_NE(ReportJson(o, *results).find("\"mix\":\"1:4\""), std::string::npos);
}

TEST(EndToEnd, PostsOnlyRunsWithoutTallies) {
  auto results = RunEndToEnd(Small({.tallies = 0, .posts = 1}));
  ASSERT_TRUE(results.ok()) << results.status();
  for (const EndToEndResult& r : *results) EXPECT_TRUE(r.verified) << r.mode << ": " << r.checked;
}

TEST(EndToEnd, RefusesWhatItCannotMeasure) {
  EndToEndOptions peer_on_posts = Small({.tallies = 1, .posts = 1});
  peer_on_posts.peer = "kafka-streams";
  peer_on_posts.kafka.Set("bootstrap.servers", "127.0.0.1:1");
  EXPECT_EQ(RunEndToEnd(peer_on_posts).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RunEndToEnd(Small({.tallies = 0, .posts = 0})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tallywire
