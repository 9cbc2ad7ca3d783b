#include "consumers/tally/race.h"

#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "consumers/tally/decode.h"
#include "core/reason.h"
#include "gtest/gtest.h"
#include "producers/tally/openelections_csv.h"

namespace tallywire {
namespace {

RaceDefinitionEvent TwoCandidates() {
  RaceDefinitionEvent r;
  r.race_id = "r";
  r.candidates = {{"a", "Ann", "D", {}}, {"b", "Bob", "R", {}}};
  r.precincts = {
      {"p1", "P1", "North", 1000}, {"p2", "P2", "North", 500}, {"p3", "P3", "South", 800}};
  return r;
}

TallyEvent Report(const std::string& precinct, uint64_t version, std::vector<int64_t> votes,
                  bool complete = true, int64_t t = 0) {
  TallyEvent e;
  e.race_id = "r";
  e.precinct_id = precinct;
  e.version = version;
  e.event_time_ms = t;
  e.votes = std::move(votes);
  e.complete = complete;
  return e;
}

// Encode + decode + apply, as the service does, without publishing.
absl::StatusOr<RaceState::Applied> Apply1(RaceState& race, const TallyEvent& t) {
  const std::string bytes = EncodeTally(t);
  auto d = DecodeTallyFor(AsBytes(bytes), [&](absl::string_view id) {
    return id == race.model().race_id ? &race : nullptr;
  });
  if (!d.ok()) return d.status();
  return race.Apply(d->update);
}

// The same, in a batch of one: published at once.
absl::StatusOr<RaceState::Applied> Feed1(RaceState& race, const TallyEvent& t) {
  absl::StatusOr<RaceState::Applied> applied = Apply1(race, t);
  race.Publish();
  return applied;
}

TEST(RaceModel, FindsEveryPrecinctByIdAndRefusesDuplicates) {
  RaceDefinitionEvent def = TwoCandidates();
  def.precincts.clear();
  for (int p = 0; p < 5000; ++p) {
    // Short ids (inline strings) and long ones (on the heap), alike in prefix.
    const std::string id = p % 2 ? absl::StrCat("p", p) : absl::StrCat("FULTON-PRECINCT-0000-", p);
    def.precincts.push_back({id, "P", absl::StrCat("county", p % 3), p});
  }
  auto model = RaceModel::FromEvent(def);
  ASSERT_TRUE(model.ok()) << model.status();
  for (uint32_t p = 0; p < 5000; ++p) {
    const std::optional<PrecinctIndex> at = (*model)->FindPrecinct(def.precincts[p].id);
    ASSERT_TRUE(at.has_value()) << def.precincts[p].id;
    EXPECT_EQ(at->value, p);
    EXPECT_EQ((*model)->precincts[at->value].id, def.precincts[p].id);
  }
  EXPECT_FALSE((*model)->FindPrecinct("p0").has_value());
  EXPECT_FALSE((*model)->FindPrecinct("FULTON-PRECINCT-0000-1").has_value());
  EXPECT_FALSE((*model)->FindPrecinct("").has_value());

  def.precincts.push_back(def.precincts[1234]);
  auto twice = RaceModel::FromEvent(def);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("precinct FULTON-PRECINCT-0000-1234 defined twice"),
            std::string::npos)
      << twice.status();
}

TEST(RaceState, CorrectionReplacesEarlierVersion) {
  RaceState race(*RaceModel::FromEvent(TwoCandidates()));
  ASSERT_TRUE(Feed1(race, Report("p1", 1, {600, 300})).ok());
  ASSERT_TRUE(Feed1(race, Report("p1", 2, {500, 310})).ok());  // lowers Ann by 100
  const RaceSnapshot s = race.Snapshot();
  EXPECT_EQ(s.votes, (std::vector<int64_t>{500, 310}));
  EXPECT_EQ(s.total_votes, 810);
  EXPECT_EQ(s.precincts_reporting, 1);
  EXPECT_EQ(s.counties[0].votes, (std::vector<int64_t>{500, 310}));
}

TEST(RaceState, EqualOrOlderVersionIsIgnored) {
  RaceState race(*RaceModel::FromEvent(TwoCandidates()));
  ASSERT_EQ(*Feed1(race, Report("p1", 5, {10, 20})), RaceState::Applied::kApplied);
  EXPECT_EQ(*Feed1(race, Report("p1", 5, {99, 99})), RaceState::Applied::kStale);
  EXPECT_EQ(*Feed1(race, Report("p1", 4, {99, 99})), RaceState::Applied::kStale);
  EXPECT_EQ(race.Snapshot().votes, (std::vector<int64_t>{10, 20}));
}

TEST(RaceState, DuplicatedReorderedInputGivesTheCleanState) {
  std::vector<TallyEvent> clean;
  std::mt19937_64 rng(3);
  const char* ids[] = {"p1", "p2", "p3"};
  for (int p = 0; p < 3; ++p) {
    int64_t a = 0, b = 0;
    for (uint64_t v = 1; v <= 6; ++v) {
      a += rng() % 50;
      b += rng() % 50;
      if (v == 4) a -= 5;  // a correction that lowers
      clean.push_back(Report(ids[p], v, {a, b}, v == 6, static_cast<int64_t>(v) * 60000));
    }
  }
  RaceState reference(*RaceModel::FromEvent(TwoCandidates()));
  for (const auto& t : clean) ASSERT_TRUE(Feed1(reference, t).ok());
  for (uint64_t seed : {1, 2, 3}) {
    std::vector<TallyEvent> messy = clean;
    messy.insert(messy.end(), clean.begin(), clean.end());
    std::shuffle(messy.begin(), messy.end(), std::mt19937_64(seed));
    RaceState race(*RaceModel::FromEvent(TwoCandidates()));
    for (const auto& t : messy) ASSERT_TRUE(Feed1(race, t).ok());
    const RaceSnapshot a = race.Snapshot(), b = reference.Snapshot();
    EXPECT_EQ(a.votes, b.votes);
    EXPECT_EQ(a.ballots_cast, b.ballots_cast);
    EXPECT_EQ(a.precincts_reporting, 3);
    EXPECT_EQ(a.uncounted_registered, 0);
    for (size_t j = 0; j < a.counties.size(); ++j)
      EXPECT_EQ(a.counties[j].votes, b.counties[j].votes);
  }
}

TEST(RaceState, UncountedRegisteredFollowsOpenPrecincts) {
  RaceState race(*RaceModel::FromEvent(TwoCandidates()));
  EXPECT_EQ(race.Snapshot().uncounted_registered, 2300);
  ASSERT_TRUE(Feed1(race, Report("p1", 1, {100, 100}, /*complete=*/false)).ok());
  EXPECT_EQ(race.Snapshot().uncounted_registered, 2100);
  ASSERT_TRUE(Feed1(race, Report("p1", 2, {300, 200}, /*complete=*/true)).ok());
  EXPECT_EQ(race.Snapshot().uncounted_registered, 1300);
  EXPECT_EQ(race.Snapshot().registered_voters, 2300);
}

TEST(RaceState, MomentumWindowKeepsOnlyRecentEventTime) {
  RaceState race(*RaceModel::FromEvent(TwoCandidates()), {.window = absl::Minutes(30)});
  ASSERT_TRUE(Feed1(race, Report("p1", 1, {100, 0}, false, 0)).ok());
  ASSERT_TRUE(Feed1(race, Report("p2", 1, {0, 50}, false, 20 * 60000)).ok());
  EXPECT_EQ(race.Snapshot().window_votes, (std::vector<int64_t>{100, 50}));
  ASSERT_TRUE(Feed1(race, Report("p3", 1, {10, 10}, false, 40 * 60000)).ok());
  EXPECT_EQ(race.Snapshot().window_votes, (std::vector<int64_t>{10, 60}));  // t=0 fell out
  EXPECT_EQ(race.Snapshot().votes, (std::vector<int64_t>{110, 60}));
}

TEST(RaceState, SnapshotsSeeAppliesOnlyOncePublished) {
  RaceState race(*RaceModel::FromEvent(TwoCandidates()));
  ASSERT_TRUE(Feed1(race, Report("p1", 1, {10, 20})).ok());
  ASSERT_TRUE(Apply1(race, Report("p3", 1, {5, 5})).ok());
  EXPECT_TRUE(race.has_unpublished());
  EXPECT_EQ(race.votes(0), 15);  // the writer's own view is current
  RaceSnapshot s = race.Snapshot();
  EXPECT_EQ(s.votes, (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(s.applied, 1);
  EXPECT_EQ(s.counties[1].votes, (std::vector<int64_t>{0, 0}));
  race.Publish();
  EXPECT_FALSE(race.has_unpublished());
  s = race.Snapshot();
  EXPECT_EQ(s.votes, (std::vector<int64_t>{15, 25}));
  EXPECT_EQ(s.applied, 2);
  EXPECT_EQ(s.counties[0].votes, (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(s.counties[1].votes, (std::vector<int64_t>{5, 5}));
}

// Publish() writes only the counties a batch touched: batches of every size
// across many counties must publish what a batch-of-one writer publishes.
TEST(RaceState, BatchedPublishesEqualPublishingEveryApply) {
  RaceDefinitionEvent def = TwoCandidates();
  def.precincts.clear();
  for (int p = 0; p < 40; ++p) {
    def.precincts.push_back({absl::StrCat("p", p), "P", absl::StrCat("county", p % 9), 100});
  }
  std::mt19937_64 rng(7);
  std::vector<TallyEvent> feed;
  std::vector<uint64_t> version(40, 0);
  std::vector<std::vector<int64_t>> votes(40, std::vector<int64_t>{0, 0});
  for (int i = 0; i < 600; ++i) {
    const int p = static_cast<int>(rng() % 40);
    for (int64_t& v : votes[p]) v += static_cast<int64_t>(rng() % 30) - 5;  // corrections too
    for (int64_t& v : votes[p]) v = std::max<int64_t>(v, 0);
    feed.push_back(Report(absl::StrCat("p", p), ++version[p], votes[p], i % 3 == 0,
                          static_cast<int64_t>(i) * 60000));
  }
  for (size_t batch : {2u, 7u, 64u}) {
    SCOPED_TRACE(::testing::Message() << "batch " << batch);
    RaceState every(*RaceModel::FromEvent(def)), batched(*RaceModel::FromEvent(def));
    for (size_t i = 0; i < feed.size(); ++i) {
      ASSERT_TRUE(Feed1(every, feed[i]).ok());
      ASSERT_TRUE(Apply1(batched, feed[i]).ok());
      if ((i + 1) % batch != 0 && i + 1 != feed.size()) continue;
      batched.Publish();
      const RaceSnapshot a = batched.Snapshot(), b = every.Snapshot();
      ASSERT_EQ(a.votes, b.votes) << "after " << i;
      ASSERT_EQ(a.window_votes, b.window_votes);
      ASSERT_EQ(a.ballots_cast, b.ballots_cast);
      ASSERT_EQ(a.precincts_reporting, b.precincts_reporting);
      ASSERT_EQ(a.uncounted_registered, b.uncounted_registered);
      ASSERT_EQ(a.applied, b.applied);
      ASSERT_EQ(a.counties.size(), 9u);
      for (size_t j = 0; j < a.counties.size(); ++j) {
        ASSERT_EQ(a.counties[j].votes, b.counties[j].votes) << a.counties[j].name;
        ASSERT_EQ(a.counties[j].ballots_cast, b.counties[j].ballots_cast);
        ASSERT_EQ(a.counties[j].precincts_reporting, b.counties[j].precincts_reporting);
      }
    }
  }
}

// Thousands of reports, time always moving on: the ring grows, wraps and
// evicts many times over, and the window must still be the sum of the
// deltas of the last 30 minutes.
TEST(RaceState, MomentumWindowEqualsBruteForceAcrossRingWraps) {
  RaceState race(*RaceModel::FromEvent(TwoCandidates()), {.window = absl::Minutes(30)});
  std::mt19937_64 rng(3);
  const std::vector<std::string> precincts = {"p1", "p2", "p3"};
  std::map<std::string, std::vector<int64_t>> last;
  std::map<std::string, uint64_t> version;
  std::vector<std::pair<int64_t, std::vector<int64_t>>> applied;  // time, deltas
  int64_t t = 0;
  for (int i = 0; i < 3000; ++i) {
    // Bursts of reports a second apart, then a lull: the ring fills past
    // its capacity and empties again.
    t += i % 100 < 60 ? 1000 : std::uniform_int_distribution<int64_t>(0, 600'000)(rng);
    const std::string& p = precincts[rng() % precincts.size()];
    std::vector<int64_t>& v = last[p];
    v.resize(2, 0);
    const std::vector<int64_t> before = v;
    for (int64_t& x : v) x += static_cast<int64_t>(rng() % 50);
    ASSERT_TRUE(Feed1(race, Report(p, ++version[p], v, false, t)).ok());
    applied.push_back({t, {v[0] - before[0], v[1] - before[1]}});
    std::vector<int64_t> want = {0, 0};
    for (const auto& [at, d] : applied) {
      if (at > t - 30 * 60000) {
        want[0] += d[0];
        want[1] += d[1];
      }
    }
    ASSERT_EQ(race.Snapshot().window_votes, want) << "report " << i;
  }
}

TEST(Decode, BadTalliesCarryReasons) {
  RaceState race(*RaceModel::FromEvent(TwoCandidates()));
  auto reason_of = [&](const TallyEvent& t) {
    const std::string bytes = EncodeTally(t);
    auto d = DecodeTallyFor(AsBytes(bytes),
                            [&](absl::string_view id) { return id == "r" ? &race : nullptr; });
    return d.ok() ? std::string("ok") : ReasonOf(d.status());
  };
  TallyEvent t = Report("p1", 1, {1, 2});
  EXPECT_EQ(reason_of(t), "ok");
  t.race_id = "nope";
  EXPECT_EQ(reason_of(t), "unknown_race");
  t = Report("p9", 1, {1, 2});
  EXPECT_EQ(reason_of(t), "unknown_precinct");
  t = Report("p1", 1, {1, 2, 3});
  EXPECT_EQ(reason_of(t), "candidate_mismatch");
  t = Report("p1", 1, {1, -2});
  EXPECT_EQ(reason_of(t), "invalid_counts");
  const std::string garbage = "this is not a flatbuffer at all";
  auto d =
      DecodeTallyFor(AsBytes(garbage), [](absl::string_view) -> RaceState* { return nullptr; });
  EXPECT_EQ(ReasonOf(d.status()), "undecodable");
}

}  // namespace
}  // namespace tallywire
