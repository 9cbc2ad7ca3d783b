#include "consumers/alerts/detect.h"

#include "consumers/tally/decode.h"
#include "gtest/gtest.h"
#include "producers/tally/synthetic_night.h"

namespace tallywire {
namespace {

int Count(const std::vector<AlertEvent>& alerts, wire::AlertKind kind,
          const std::string& cand = "") {
  int n = 0;
  for (const auto& a : alerts) n += a.kind == kind && (cand.empty() || a.candidate_id == cand);
  return n;
}

// Runs a feed's tallies in order through decode -> apply -> detect.
std::vector<AlertEvent> Replay(const Feed& feed, const std::vector<const TallyEvent*>& order,
                               RaceState& race, RaceDetector& detector) {
  std::vector<AlertEvent> alerts;
  for (const TallyEvent* t : order) {
    const std::string bytes = EncodeTally(*t);
    auto d = DecodeTallyFor(AsBytes(bytes), [&](absl::string_view) { return &race; });
    EXPECT_TRUE(d.ok()) << d.status();
    if (race.Apply(d->update) == RaceState::Applied::kApplied) {
      detector.Detect(race, {.event_time_ms = t->event_time_ms}, &alerts);
    }
  }
  return alerts;
}

TEST(Detector, April18NightFiresOneFallBelowFiftyAndOneRunoff) {
  const Feed feed = GenerateApril18Night({});
  AlertRules rules;
  auto model = *RaceModel::FromEvent(feed.races[0]);
  RaceState race(model);
  RaceDetector detector(rules, *model);
  std::vector<const TallyEvent*> order;
  for (const auto& t : feed.tallies) order.push_back(&t);
  std::vector<AlertEvent> alerts = Replay(feed, order, race, detector);
  EXPECT_EQ(Count(alerts, wire::AlertKind::ThresholdCrossedDown, "jon-ossoff"), 1);
  EXPECT_EQ(Count(alerts, wire::AlertKind::ThresholdCrossedDown), 1);
  EXPECT_EQ(Count(alerts, wire::AlertKind::ThresholdCrossedUp, "jon-ossoff"), 1);
  EXPECT_EQ(Count(alerts, wire::AlertKind::RunoffCertain), 1);
  EXPECT_EQ(Count(alerts, wire::AlertKind::WinnerCertain), 0);
  EXPECT_EQ(Count(alerts, wire::AlertKind::LeaderChange), 1);  // Ossoff leads from the first report
  EXPECT_EQ(Count(alerts, wire::AlertKind::ReportingMilestone), 4);
  for (const auto& a : alerts) {
    if (a.kind == wire::AlertKind::ThresholdCrossedDown) {
      EXPECT_NE(a.message.find("Jon Ossoff fell below 50.0 % (49."), std::string::npos)
          << a.message;
      EXPECT_LT(a.share_bp, 5000);
    }
  }
  // The same input again (a replay) fires nothing new.
  EXPECT_TRUE(Replay(feed, order, race, detector).empty());
}

TEST(Detector, NoFlappingInsideTheHysteresisBand) {
  RaceDefinitionEvent def;
  def.race_id = "r";
  def.candidates = {{"a", "Ann", "", {}}, {"b", "Bob", "", {}}};
  for (int p = 0; p < 10; ++p) def.precincts.push_back({"p" + std::to_string(p), "", "C", 1000});
  auto model = *RaceModel::FromEvent(def);
  RaceState race(model);
  AlertRules rules;  // 50 %, band 0.25 points
  RaceDetector detector(rules, *model);
  std::vector<AlertEvent> alerts;
  // Ann goes above, then oscillates 50.1 % / 49.9 % inside the band, then
  // falls clearly below.
  const int64_t swings[][2] = {{5100, 4900}, {5010, 4990}, {4990, 5010},
                               {5010, 4990}, {4990, 5010}, {4900, 5100}};
  uint64_t v = 0;
  for (const auto& s : swings) {
    const int64_t votes[] = {s[0], s[1]};
    race.Apply({.precinct = {0}, .version = ++v, .votes = votes, .complete = true});
    detector.Detect(race, {}, &alerts);
  }
  EXPECT_EQ(Count(alerts, wire::AlertKind::ThresholdCrossedUp, "a"), 1);
  EXPECT_EQ(Count(alerts, wire::AlertKind::ThresholdCrossedDown, "a"), 1);
  EXPECT_EQ(Count(alerts, wire::AlertKind::LeaderChange), 2);  // Ann, then Bob
}

TEST(Detector, WinnerCertainWhenNoRemainingVotesCanChangeIt) {
  RaceDefinitionEvent def;
  def.race_id = "r";
  def.candidates = {{"a", "Ann", "", {}}, {"b", "Bob", "", {}}};
  def.precincts = {{"p1", "", "C", 1000}, {"p2", "", "C", 100}};
  auto model = *RaceModel::FromEvent(def);
  RaceState race(model);
  AlertRules rules;
  RaceDetector detector(rules, *model);
  std::vector<AlertEvent> alerts;
  const int64_t big[] = {700, 200};
  race.Apply({.precinct = {0}, .version = 1, .votes = big, .complete = true});
  detector.Detect(race, {}, &alerts);
  // 700 > 50 % of (900 + 100 uncounted): certain.
  EXPECT_EQ(Count(alerts, wire::AlertKind::WinnerCertain, "a"), 1);
  EXPECT_EQ(Count(alerts, wire::AlertKind::RunoffCertain), 0);
}

// Found by fuzz/tally_stream (issue 12 names it too): with the leader rule
// off, the runoff alert read candidates[-1].
TEST(Detector, RunoffAlertNamesTheLeaderWithLeaderChangeOff) {
  RaceDefinitionEvent def;
  def.race_id = "r";
  def.candidates = {{"a", "Ann", "", {}}, {"b", "Bob", "", {}}, {"c", "Cy", "", {}}};
  def.precincts = {{"p1", "", "C", 100}};
  auto model = *RaceModel::FromEvent(def);
  RaceState race(model);
  AlertRules rules;
  ASSERT_TRUE(rules.Set("leader_change", "false").ok());
  RaceDetector detector(rules, *model);
  std::vector<AlertEvent> alerts;
  const int64_t votes[] = {30, 40, 30};
  race.Apply({.precinct = {0}, .version = 1, .votes = votes, .complete = true});
  detector.Detect(race, {}, &alerts);
  EXPECT_EQ(Count(alerts, wire::AlertKind::LeaderChange), 0);
  ASSERT_EQ(Count(alerts, wire::AlertKind::RunoffCertain, "b"), 1);
  for (const AlertEvent& a : alerts) {
    if (a.kind == wire::AlertKind::RunoffCertain) {
      EXPECT_NE(a.message.find("(leader Bob 40.00 %"), std::string::npos) << a.message;
    }
  }
}

TEST(AlertRules, ParsesFileAndRejectsUnknownKeys) {
  AlertRules rules;
  ASSERT_TRUE(rules.Set("thresholds", "50, 60").ok());
  ASSERT_TRUE(rules.Set("hysteresis", "0.1").ok());
  EXPECT_EQ(rules.thresholds_bp, (std::vector<int32_t>{5000, 6000}));
  EXPECT_EQ(rules.hysteresis_bp, 10);
  EXPECT_FALSE(rules.Set("thresholdz", "1").ok());
  EXPECT_FALSE(rules.Set("hysteresis", "abc").ok());
}

}  // namespace
}  // namespace tallywire
