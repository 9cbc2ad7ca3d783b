#include "consumers/service/probe.h"

#include "gtest/gtest.h"

namespace tallywire {
namespace {

TEST(ServiceProbe, ConsumedNewLeavesReplaysOutPerTopic) {
  ServiceProbe probe;
  for (int i = 0; i < 5; ++i) probe.on_consumed(SourceTopic::kTallies);
  for (int i = 0; i < 3; ++i) probe.on_restored(SourceTopic::kTallies);
  probe.on_consumed(SourceTopic::kPosts);
  EXPECT_EQ(probe.consumed_new(SourceTopic::kTallies), 2u);
  EXPECT_EQ(probe.consumed_new(SourceTopic::kPosts), 1u);
  const std::string text = probe.PrometheusText();
  EXPECT_NE(text.find("tallywire_events_restored_total{topic=\"tallies\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("tallywire_events_restored_total{topic=\"posts\"} 0\n"), std::string::npos);
}

// A worker counts a batch's replays before its consumed count, so a reader
// can see the replays alone; the difference must read 0, not wrap to
// 2^64 - 1 and end a wait at once.
TEST(ServiceProbe, ConsumedNewNeverWrapsBelowZero) {
  ServiceProbe probe;
  probe.on_restored(SourceTopic::kTallies);
  EXPECT_EQ(probe.consumed_new(SourceTopic::kTallies), 0u);
}

}  // namespace
}  // namespace tallywire
