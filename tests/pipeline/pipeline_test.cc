// The tally pipeline end to end through a broker: producer -> tallies topic
// -> aggregator (decode, apply, detect, publish) -> alerts / dlq topics.
// Built twice: against the embedded broker (label `embedded`) and against
// the real Kafka broker in TALLYWIRE_KAFKA_BROKERS (label `kafka`).
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "producers/tally/openelections_csv.h"
#include "producers/tally/synthetic_night.h"
#include "tests/pipeline/harness.h"

namespace tallywire::testing {
namespace {

const std::string kRunoff = std::string(TALLYWIRE_SOURCE_DIR) + "/data/ga06-2017-06-20-runoff/";

Feed RunoffFeed() {
  CsvReport report;
  auto feed =
      ReadOpenElectionsCsv({kRunoff + "cobb.csv", kRunoff + "dekalb.csv", kRunoff + "fulton.csv"},
                           {.version = 2}, &report);
  EXPECT_TRUE(feed.ok()) << feed.status();
  return *feed;
}

int Count(const std::vector<AlertEvent>& alerts, wire::AlertKind kind,
          const std::string& cand = "") {
  int n = 0;
  for (const auto& a : alerts) n += a.kind == kind && (cand.empty() || a.candidate_id == cand);
  return n;
}

// Waits until the service consumed `n` tally messages, replays not counted.
void AwaitConsumed(const AggregatorService& svc, uint64_t n) {
  const ServiceProbe& probe = svc.probe();
  ASSERT_TRUE(
      WaitUntil([&] { return probe.consumed_new(SourceTopic::kTallies) >= n; }, absl::Seconds(120)))
      << "consumed " << probe.consumed_new(SourceTopic::kTallies) << " of " << n;
}

TEST(Pipeline, RunoffShuffledDuplicatedCorrectedGivesCertifiedTotals) {
  Feed feed = RunoffFeed();
  // One precinct first sent wrong (version 1), then right (version 2).
  TallyEvent wrong = feed.tallies[17];
  wrong.version = 1;
  wrong.votes[0] += 5000;
  feed.tallies.push_back(wrong);
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    auto p = Pipeline::Create();
    ASSERT_NE(p, nullptr);
    auto svc = AggregatorService::Start(p->AggregatorOptions(2));
    ASSERT_TRUE(svc.ok()) << svc.status();
    PublishOptions opts = p->PublishOpts();
    opts.shuffle = true;
    opts.seed = seed;
    opts.repeat = 2;
    auto sent = PublishFeed(feed, p->cfg, opts);
    ASSERT_TRUE(sent.ok()) << sent.status();
    EXPECT_EQ(sent->failed, 0u);
    AwaitConsumed(**svc, sent->sent);
    auto race = (*svc)->races().Find("us-house-6");
    ASSERT_NE(race, nullptr);
    const RaceSnapshot s = race->Snapshot();
    EXPECT_EQ(s.votes, (std::vector<int64_t>{134799, 125517}));
    EXPECT_EQ(s.precincts_reporting, 208);
    EXPECT_EQ(s.precincts_total, 208);
    EXPECT_EQ(s.ballots_cast, 260455);
    EXPECT_EQ(s.registered_voters, 447826);
    EXPECT_EQ((*svc)->probe().dead_lettered(), 0u);
    ASSERT_TRUE((*svc)->Stop().ok());
    const auto alerts = p->Alerts();
    EXPECT_EQ(Count(alerts, wire::AlertKind::WinnerCertain, "karen-handel"), 1);
    EXPECT_EQ(Count(alerts, wire::AlertKind::ReportingMilestone), 4);
  }
}

// SIGTERM can arrive while the group is still forming or rebalancing.
// cooperative-sticky assignor aborted the process when a consumer closed
// before its first assignment (CI caught it); stopping mid-join must be clean.
TEST(Pipeline, StoppingWhileTheGroupFormsIsClean) {
  auto p = Pipeline::Create();
  ASSERT_NE(p, nullptr);
  for (int round = 0; round < 6; ++round) {
    auto first = AggregatorService::Start(p->AggregatorOptions(2));
    ASSERT_TRUE(first.ok()) << first.status();
    absl::SleepFor(absl::Milliseconds(150 * round));
    // A second member joining forces a rebalance, stopped at varying points.
    auto second = AggregatorService::Start(p->AggregatorOptions(2));
    ASSERT_TRUE(second.ok()) << second.status();
    absl::SleepFor(absl::Milliseconds(50 * round));
    EXPECT_TRUE((*first)->Stop().ok()) << "round " << round;
    EXPECT_TRUE((*second)->Stop().ok()) << "round " << round;
  }
}

TEST(Pipeline, April18NightFiresItsAlertsOnce) {
  auto p = Pipeline::Create();
  ASSERT_NE(p, nullptr);
  auto svc = AggregatorService::Start(p->AggregatorOptions(1));
  ASSERT_TRUE(svc.ok()) << svc.status();
  const Feed feed = GenerateApril18Night({});
  auto sent = PublishFeed(feed, p->cfg, p->PublishOpts());
  ASSERT_TRUE(sent.ok()) << sent.status();
  AwaitConsumed(**svc, sent->sent);
  ASSERT_TRUE((*svc)->Stop().ok());
  const auto alerts = p->Alerts();
  EXPECT_EQ(Count(alerts, wire::AlertKind::ThresholdCrossedDown, "jon-ossoff"), 1);
  EXPECT_EQ(Count(alerts, wire::AlertKind::ThresholdCrossedDown), 1);
  EXPECT_EQ(Count(alerts, wire::AlertKind::RunoffCertain), 1);
  for (const auto& a : alerts) {
    EXPECT_GT(a.produce_time_ms, 0);
    EXPECT_GE(a.detect_time_ms, a.produce_time_ms);
    EXPECT_EQ(a.source_topic, p->topics.tallies);
    if (a.kind == wire::AlertKind::ThresholdCrossedDown) {
      EXPECT_NE(a.message.find("Jon Ossoff fell below 50.0 %"), std::string::npos) << a.message;
    }
  }
  // Final shares from the live aggregate, not just the generator.
  const ExpectedRace e = ExpectedTotals(feed)[0];
  EXPECT_EQ((*svc)->races().Find(e.race_id)->Snapshot().votes, e.votes);
}

TEST(Pipeline, RestartedAggregatorRebuildsStateWithoutRepeatingAlerts) {
  auto p = Pipeline::Create();
  ASSERT_NE(p, nullptr);
  const Feed feed = GenerateApril18Night({});
  const ExpectedRace e = ExpectedTotals(feed)[0];
  uint64_t sent_n = 0;
  {
    auto first = AggregatorService::Start(p->AggregatorOptions(1));
    ASSERT_TRUE(first.ok()) << first.status();
    auto sent = PublishFeed(feed, p->cfg, p->PublishOpts());
    ASSERT_TRUE(sent.ok()) << sent.status();
    sent_n = sent->sent;
    AwaitConsumed(**first, sent_n);
    ASSERT_TRUE((*first)->Stop().ok());
  }
  const size_t alerts_before = p->Alerts().size();
  ASSERT_GT(alerts_before, 5u);
  auto second = AggregatorService::Start(p->AggregatorOptions(2));
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = (*second)->races().Find(e.race_id);
        return r && r->Snapshot().votes == e.votes && (*second)->ready();
      },
      absl::Seconds(60)))
      << "ready " << (*second)->ready() << " lag " << (*second)->probe().total_lag();
  // Everything was committed: the second service restores from the
  // changelog (every accepted tally, at least one per precinct) and reads
  // nothing of the input again.
  EXPECT_GE((*second)->probe().changelog_restored(), static_cast<uint64_t>(e.precincts));
  EXPECT_EQ((*second)->probe().consumed(SourceTopic::kTallies), 0u);
  ASSERT_TRUE((*second)->Stop().ok());
  EXPECT_EQ(p->Alerts().size(), alerts_before);
}

TEST(Pipeline, BadInputIsDeadLetteredWithReasonsAndTheRestIsExact) {
  auto p = Pipeline::Create(1);
  ASSERT_NE(p, nullptr);
  auto svc = AggregatorService::Start(p->AggregatorOptions(1));
  ASSERT_TRUE(svc.ok()) << svc.status();
  Feed feed = RunoffFeed();
  p->ProduceRaw(std::string("\x00\x01garbage bytes, not a flatbuffer", 33));
  TallyEvent unknown = feed.tallies[0];
  unknown.race_id = "no-such-race";
  p->ProduceRaw(EncodeTally(unknown));
  auto sent = PublishFeed(feed, p->cfg, p->PublishOpts());
  ASSERT_TRUE(sent.ok()) << sent.status();
  TallyEvent mismatch = feed.tallies[1];
  mismatch.version = 99;
  mismatch.votes.push_back(1);
  p->ProduceRaw(EncodeTally(mismatch));
  TallyEvent negative = feed.tallies[2];
  negative.version = 99;
  negative.votes[0] = -40;
  p->ProduceRaw(EncodeTally(negative));
  AwaitConsumed(**svc, sent->sent + 4);
  ASSERT_TRUE(WaitUntil([&] { return (*svc)->probe().dead_lettered() >= 4; }, absl::Seconds(30)));
  const ServiceProbe& probe = (*svc)->probe();
  EXPECT_EQ(probe.dead_lettered("undecodable"), 1u);
  EXPECT_EQ(probe.dead_lettered("unknown_race"), 1u);
  EXPECT_EQ(probe.dead_lettered("candidate_mismatch"), 1u);
  EXPECT_EQ(probe.dead_lettered("invalid_counts"), 1u);
  EXPECT_EQ((*svc)->races().Find("us-house-6")->Snapshot().votes,
            (std::vector<int64_t>{134799, 125517}));
  ASSERT_TRUE((*svc)->Stop().ok());
  const auto dead = p->DeadLetters();
  ASSERT_EQ(dead.size(), 4u);
  std::multiset<std::string> reasons;
  for (const auto& d : dead) {
    reasons.insert(d.reason);
    EXPECT_FALSE(d.error.empty());
    EXPECT_NE(d.source.find(p->topics.tallies + "/0/"), std::string::npos) << d.source;
  }
  EXPECT_EQ(reasons, (std::multiset<std::string>{"candidate_mismatch", "invalid_counts",
                                                 "undecodable", "unknown_race"}));
  EXPECT_EQ(dead[0].value.substr(0, 2), std::string("\x00\x01", 2));  // the bytes, untouched
}

TEST(Pipeline, HttpFaceServesRacesMetricsAndProbes) {
  auto p = Pipeline::Create();
  ASSERT_NE(p, nullptr);
  // One worker: a second one joining late moves partitions and replays them,
  // which makes the consumed count depend on timing (CI saw 2 x 209).
  ServiceOptions opts = p->AggregatorOptions(1);
  opts.http_listen = "127.0.0.1:0";
  auto svc = AggregatorService::Start(opts);
  ASSERT_TRUE(svc.ok()) << svc.status();
  const int port = (*svc)->http_port();
  ASSERT_GT(port, 0);
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);
  auto sent = PublishFeed(RunoffFeed(), p->cfg, p->PublishOpts());
  ASSERT_TRUE(sent.ok()) << sent.status();
  AwaitConsumed(**svc, sent->sent);
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(port, "/readyz").status == 200; }, absl::Seconds(30)));

  const HttpReply race = HttpGet(port, "/races/us-house-6");
  EXPECT_EQ(race.status, 200);
  EXPECT_NE(
      race.body.find("\"name\":\"Karen Handel\",\"party\":\"R\",\"votes\":134799,\"share\":51.7"),
      std::string::npos)
      << race.body;
  EXPECT_NE(race.body.find("\"votes\":125517"), std::string::npos);
  EXPECT_NE(race.body.find("\"precincts_reporting\":208,\"precincts_total\":208"),
            std::string::npos);
  EXPECT_NE(race.body.find("\"name\":\"DeKalb\",\"ballots_cast\":"), std::string::npos);
  EXPECT_NE(HttpGet(port, "/races").body.find("\"race_id\":\"us-house-6\""), std::string::npos);
  EXPECT_EQ(HttpGet(port, "/races/nope").status, 404);

  const HttpReply metrics = HttpGet(port, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  for (const std::string& line :
       {"tallywire_events_consumed_total{topic=\"tallies\"} " + std::to_string(sent->sent) + "\n",
        std::string("tallywire_events_restored_total{topic=\"tallies\"} 0\n"),
        std::string("tallywire_alerts_total{kind=\"winner_certain\"} 1"),
        std::string("tallywire_consumer_lag{topic=\"") + p->topics.tallies,
        std::string("tallywire_produce_to_alert_seconds_count"),
        std::string("tallywire_apply_latency_seconds_bucket{le=\"+Inf\"}"),
        std::string("tallywire_rebalances_total")}) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "\n" << metrics.body;
  }
  ASSERT_TRUE((*svc)->Stop().ok());
}

}  // namespace
}  // namespace tallywire::testing
