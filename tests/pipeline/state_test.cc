// State that survives the real night (issue "state that survives"): county
// files republished, a write-in mid-stream, any client's partitioner. Runs
// on the embedded broker and, as kafka.State.*, on the real one.
#include <random>

#include "absl/strings/str_cat.h"
#include "consumers/state/definitions.h"
#include "gtest/gtest.h"
#include "producers/tally/openelections_csv.h"
#include "producers/tally/synthetic_night.h"
#include "tests/pipeline/harness.h"

namespace tallywire::testing {
namespace {

const std::string kRunoffDir = std::string(TALLYWIRE_SOURCE_DIR) + "/data/ga06-2017-06-20-runoff/";

Feed County(const std::vector<std::string>& files, uint64_t version) {
  CsvReport report;
  std::vector<std::string> paths;
  for (const std::string& f : files) paths.push_back(kRunoffDir + f);
  auto feed = ReadOpenElectionsCsv(paths, {.version = version}, &report);
  EXPECT_TRUE(feed.ok()) << feed.status();
  return feed.ok() ? *feed : Feed{};
}

// Waits until the race's published totals equal `votes` (or times out) and
// returns the last snapshot seen.
RaceSnapshot AwaitVotes(const AggregatorService& svc, const std::string& race,
                        const std::vector<int64_t>& votes) {
  RaceSnapshot last;
  WaitUntil(
      [&] {
        auto r = svc.races().Find(race);
        if (!r) return false;
        last = r->Snapshot();
        return last.votes == votes;
      },
      absl::Seconds(90));
  return last;
}

TEST(State, CountyRepublishedWithACorrectionMovesTotalsOnlyByIt) {
  auto p = Pipeline::Create();
  ASSERT_NE(p, nullptr);
  auto svc = AggregatorService::Start(p->AggregatorOptions(2));
  ASSERT_TRUE(svc.ok()) << svc.status();
  ASSERT_TRUE(
      PublishFeed(County({"cobb.csv", "dekalb.csv", "fulton.csv"}, 2), p->cfg, p->PublishOpts())
          .ok());
  const std::vector<int64_t> certified{134799, 125517};
  EXPECT_EQ(AwaitVotes(**svc, "us-house-6", certified).votes, certified);

  // Cobb posts again, alone, one precinct corrected: its definition lists
  // only Cobb's 50 precincts, which must not wipe DeKalb's and Fulton's.
  Feed cobb = County({"cobb.csv"}, 3);
  ASSERT_FALSE(cobb.tallies.empty());
  ASSERT_EQ(cobb.races.size(), 1u);
  EXPECT_LT(cobb.races[0].precincts.size(), 208u);
  cobb.tallies[0].votes[0] += 100;
  ASSERT_TRUE(PublishFeed(cobb, p->cfg, p->PublishOpts()).ok());
  const std::vector<int64_t> corrected{134799 + 100, 125517};
  const RaceSnapshot s = AwaitVotes(**svc, "us-house-6", corrected);
  EXPECT_EQ(s.votes, corrected);
  EXPECT_EQ(s.precincts_total, 208);

  // The correction reverted, as a newer version: the certified totals again.
  cobb.tallies[0].votes[0] -= 100;
  for (TallyEvent& t : cobb.tallies) t.version = 4;
  cobb.races[0].version = 4;
  ASSERT_TRUE(PublishFeed(cobb, p->cfg, p->PublishOpts()).ok());
  const RaceSnapshot back = AwaitVotes(**svc, "us-house-6", certified);
  EXPECT_EQ(back.votes, certified);
  EXPECT_EQ(back.precincts_total, 208);
  EXPECT_EQ(back.precincts_reporting, 208);
  EXPECT_EQ(back.ballots_cast, 260455);
  ASSERT_TRUE((*svc)->Stop().ok());
  EXPECT_EQ((*svc)->probe().dead_lettered(), 0u);
  EXPECT_TRUE(p->DeadLetters().empty());
}

TEST(State, WriteInAppearsMidStreamAndExistingTotalsStay) {
  auto p = Pipeline::Create();
  ASSERT_NE(p, nullptr);
  auto svc = AggregatorService::Start(p->AggregatorOptions(1));
  ASSERT_TRUE(svc.ok()) << svc.status();
  Feed feed = County({"cobb.csv", "dekalb.csv", "fulton.csv"}, 2);
  ASSERT_TRUE(PublishFeed(feed, p->cfg, p->PublishOpts()).ok());
  const std::vector<int64_t> certified{134799, 125517};
  ASSERT_EQ(AwaitVotes(**svc, "us-house-6", certified).votes, certified);

  // 23:00: a write-in is added to the race and one precinct reports votes
  // for them, in a newer version.
  Feed later;
  RaceDefinitionEvent def = feed.races[0];
  def.version = 3;
  def.precincts.clear();  // only the candidates change
  def.candidates.push_back({.id = "write-in-jane-doe", .name = "Jane Doe (write-in)"});
  later.races.push_back(def);
  TallyEvent t = feed.tallies[5];
  t.version = 3;
  t.votes.push_back(42);
  later.tallies.push_back(t);
  ASSERT_TRUE(PublishFeed(later, p->cfg, p->PublishOpts()).ok());
  const std::vector<int64_t> with_write_in{134799, 125517, 42};
  const RaceSnapshot s = AwaitVotes(**svc, "us-house-6", with_write_in);
  EXPECT_EQ(s.votes, with_write_in);
  EXPECT_EQ(s.precincts_total, 208);
  ASSERT_EQ(s.model->candidates.size(), 3u);
  EXPECT_EQ(s.model->candidates[2].id, "write-in-jane-doe");
  // A definition that reorders the candidates would re-label counted votes:
  // refused, and the totals stay.
  Feed reordered;
  RaceDefinitionEvent bad = def;
  bad.version = 4;
  std::swap(bad.candidates[0], bad.candidates[1]);
  reordered.races.push_back(bad);
  ASSERT_TRUE(PublishFeed(reordered, p->cfg, p->PublishOpts()).ok());
  ASSERT_TRUE(WaitUntil([&] { return (*svc)->definitions().conflicts() > 0; }, absl::Seconds(30)));
  EXPECT_EQ((*svc)->races().Find("us-house-6")->Snapshot().votes, with_write_in);
  ASSERT_TRUE((*svc)->Stop().ok());
  EXPECT_EQ((*svc)->probe().dead_lettered(), 0u);
}

// Tallies on random partitions, as kcat's or a Java client's partitioner
// puts a "race/precinct" key: each is forwarded to its race's home.
TEST(State, AnyPartitionerGivesExactTotalsWithOneTwoAndFourThreads) {
  const Feed feed =
      GenerateScaleNight({.races = 6, .precincts = 60, .candidates = 3, .versions = 2, .seed = 5});
  const std::vector<ExpectedRace> expected = ExpectedTotals(feed);
  for (int threads : {1, 2, 4}) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    // Fresh topics each time: a changelog written by an earlier run would
    // make every tally stale, and the forwarding would go untested.
    auto p = Pipeline::Create(4);
    ASSERT_NE(p, nullptr);
    auto producer = kafka::Producer::Create(p->cfg);
    ASSERT_TRUE(producer.ok()) << producer.status();
    std::mt19937 rng(7 + threads);
    for (const RaceDefinitionEvent& r : feed.races) {
      ASSERT_TRUE((*producer)
                      ->Produce({.topic = p->topics.races,
                                 .partition = static_cast<int32_t>(rng() % 4),
                                 .key = r.race_id,
                                 .value = EncodeRaceDefinition(r)})
                      .ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
    uint64_t off_home = 0;
    for (const TallyEvent& t : feed.tallies) {
      const std::string key = absl::StrCat(t.race_id, "/", t.precinct_id);
      const auto partition = static_cast<int32_t>(rng() % 4);
      off_home += partition != RacePartition(t.race_id, 4);
      ASSERT_TRUE((*producer)
                      ->Produce({.topic = p->topics.tallies,
                                 .partition = partition,
                                 .key = key,
                                 .value = EncodeTally(t)})
                      .ok());
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
    auto svc = AggregatorService::Start(p->AggregatorOptions(threads));
    ASSERT_TRUE(svc.ok()) << svc.status();
    for (const ExpectedRace& e : expected) {
      EXPECT_EQ(AwaitVotes(**svc, e.race_id, e.votes).votes, e.votes) << e.race_id;
    }
    EXPECT_EQ((*svc)->probe().dead_lettered(), 0u);
    ASSERT_TRUE((*svc)->Stop().ok());
    EXPECT_GT(off_home, 0u);
    EXPECT_GE((*svc)->probe().forwarded(), off_home);  // a redelivery may forward twice
  }
}

}  // namespace
}  // namespace tallywire::testing
