#include "producers/tally/synthetic_night.h"

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace tallywire {
namespace {

// final_pct values straight from scenario.json, by candidate name.
std::map<std::string, double> ScenarioShares() {
  std::ifstream in(std::string(TALLYWIRE_SOURCE_DIR) + "/data/ga06-2017-04-18/scenario.json");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::map<std::string, double> out;
  // Each candidate object: {"name": "...", "party": "X", "final_pct": N}.
  for (size_t at = text.find("{\"name\""); at != std::string::npos;
       at = text.find("{\"name\"", at + 1)) {
    const size_t end = text.find('}', at);
    const std::string obj = text.substr(at, end - at);
    const size_t q1 = obj.find('"', obj.find(':') + 1), q2 = obj.find('"', q1 + 1);
    const size_t pct = obj.find("\"final_pct\":");
    if (pct == std::string::npos) continue;
    out[obj.substr(q1 + 1, q2 - q1 - 1)] = std::stod(obj.substr(obj.find(':', pct) + 1));
  }
  return out;
}

TEST(April18Night, FinalSharesMatchScenarioWithinFiveHundredthsOfAPoint) {
  const Feed feed = GenerateApril18Night({});
  const auto shares = ScenarioShares();
  ASSERT_EQ(shares.size(), 5u);
  ASSERT_EQ(feed.races[0].candidates.size(), 18u);
  const ExpectedRace e = ExpectedTotals(feed)[0];
  int64_t total = 0;
  for (int64_t v : e.votes) total += v;
  EXPECT_EQ(total, kApril18Ballots);
  for (size_t c = 0; c < e.votes.size(); ++c) {
    const double pct = 100.0 * e.votes[c] / total;
    auto it = shares.find(feed.races[0].candidates[c].name);
    if (it != shares.end()) {
      EXPECT_NEAR(pct, it->second, 0.05) << it->first;
    } else {
      EXPECT_LT(pct, 1.0) << feed.races[0].candidates[c].name;
    }
  }
  EXPECT_EQ(e.precincts, 208);
  EXPECT_EQ(e.precincts_complete, 208);
}

TEST(April18Night, EarlyVotesFirstThenElectionDayWithLoweringCorrections) {
  const Feed feed = GenerateApril18Night({});
  // Running share of the leader in event-time order: above 50 % after the
  // first reports, below at the end.
  std::map<std::string, std::pair<uint64_t, std::vector<int64_t>>> latest;
  std::vector<double> running;
  int lowering = 0;
  for (const TallyEvent& t : feed.tallies) {
    auto& cur = latest[t.precinct_id];
    if (t.version <= cur.first) continue;
    if (!cur.second.empty() && t.votes[1] < cur.second[1]) ++lowering;
    cur = {t.version, t.votes};
    int64_t o = 0, all = 0;
    for (auto& [id, p] : latest) {
      o += p.second[0];
      for (int64_t v : p.second) all += v;
    }
    running.push_back(100.0 * o / all);
  }
  EXPECT_GT(running[20], 50.0);
  EXPECT_LT(running.back(), 50.0);
  EXPECT_GE(lowering, 2);
  EXPECT_FALSE(feed.tallies.front().complete);  // early/absentee first
}

TEST(ScaleNight, GeneratesRacesTimesPrecinctsTimesVersions) {
  const Feed feed =
      GenerateScaleNight({.races = 3, .precincts = 50, .candidates = 4, .versions = 2});
  EXPECT_EQ(feed.races.size(), 3u);
  EXPECT_EQ(feed.tallies.size(), 300u);
  EXPECT_EQ(GenerateScaleNight({.seed = 9}).tallies, GenerateScaleNight({.seed = 9}).tallies);
}

}  // namespace
}  // namespace tallywire
