#include "producers/tally/synthetic_night.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "producers/tally/openelections_csv.h"

namespace tallywire {
namespace {

// Splits `total` into integers proportional to `weights`, summing exactly
// (largest remainder).
std::vector<int64_t> Apportion(int64_t total, const std::vector<double>& weights) {
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<int64_t> out(weights.size());
  std::vector<std::pair<double, size_t>> rem;
  int64_t given = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const double exact = total * weights[i] / sum;
    out[i] = static_cast<int64_t>(std::floor(exact));
    given += out[i];
    rem.push_back({exact - out[i], i});
  }
  std::sort(rem.begin(), rem.end(), [](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  for (int64_t i = 0; i < total - given; ++i) ++out[rem[i % rem.size()].second];
  return out;
}

// 2017-04-18 19:00 EDT (polls close) in Unix ms.
constexpr int64_t kPollsCloseMs = 1492556400000;
constexpr int64_t kMinuteMs = 60'000;

}  // namespace

const std::vector<ScenarioCandidate>& April18Candidates() {
  static const auto* kCandidates = new std::vector<ScenarioCandidate>{
      {"Jon Ossoff", "D", 48.10},       {"Karen Handel", "R", 19.78},
      {"Bob Gray", "R", 10.81},         {"Dan Moody", "R", 8.85},
      {"Judson Hill", "R", 8.77},       {"Mohammad Ali Bhuiyan", "R", -1},
      {"Bruce LeVell", "R", -1},        {"David Abroms", "R", -1},
      {"Keith Grawert", "R", -1},       {"Amy Kremer", "R", -1},
      {"William Llop", "R", -1},        {"Kurt Wilson", "R", -1},
      {"Ron Slotin", "D", -1},          {"Ragin Edwards", "D", -1},
      {"Richard Keatley", "D", -1},     {"Rebecca Quigg", "D", -1},
      {"Alexander Hernandez", "I", -1}, {"Andre Pollard", "I", -1}};
  return *kCandidates;
}

Feed GenerateApril18Night(const April18Options& options) {
  std::mt19937_64 rng(options.seed);
  const auto& cands = April18Candidates();
  const size_t k = cands.size();
  const int64_t total = kApril18Ballots;

  // Final totals: known shares exactly, the 13 others (3.69 %, each < 1 %)
  // by fixed weights.
  std::vector<double> weights;
  double known = 0;
  for (const auto& c : cands) known += std::max(0.0, c.final_pct);
  const std::vector<double> other_weights = {0.9,  0.6,  0.45, 0.35, 0.3,  0.25, 0.2,
                                             0.17, 0.15, 0.12, 0.1,  0.05, 0.05};
  const double other_sum = std::accumulate(other_weights.begin(), other_weights.end(), 0.0);
  for (size_t c = 0, o = 0; c < k; ++c) {
    weights.push_back(cands[c].final_pct >= 0 ? cands[c].final_pct
                                              : (100.0 - known) * other_weights[o++] / other_sum);
  }
  const std::vector<int64_t> finals = Apportion(total, weights);

  // Early + absentee ballots: a third of the vote, Ossoff at 58 % of them.
  const int64_t early_total = total / 3;
  std::vector<int64_t> early(k);
  early[0] = std::llround(early_total * 0.58);
  std::vector<double> rest_weights(finals.begin() + 1, finals.end());
  std::vector<int64_t> rest = Apportion(early_total - early[0], rest_weights);
  std::copy(rest.begin(), rest.end(), early.begin() + 1);

  // 208 precincts in the three counties, registered voters around 2,150
  // (447,826 registered in all, as in the runoff files).
  struct P {
    std::string county;
    int number;
    int64_t registered;
    double lean;
  };
  std::vector<P> precincts;
  const std::pair<const char*, int> counties[] = {{"Cobb", 50}, {"DeKalb", 43}, {"Fulton", 115}};
  const double county_lean[] = {0.88, 1.25, 0.98};  // Ossoff's strength by county
  std::uniform_int_distribution<int64_t> reg(1200, 3100);
  std::uniform_real_distribution<double> noise(0.85, 1.15);
  for (int ci = 0; ci < 3; ++ci) {
    for (int i = 1; i <= counties[ci].second; ++i) {
      precincts.push_back({counties[ci].first, i, reg(rng), county_lean[ci] * noise(rng)});
    }
  }
  const size_t n = precincts.size();
  // Per candidate, per vote type: apportion over precincts by registered
  // voters, Ossoff weighted by lean and the rest by its inverse.
  auto spread = [&](const std::vector<int64_t>& per_candidate) {
    std::vector<std::vector<int64_t>> by_precinct(n, std::vector<int64_t>(k));
    for (size_t c = 0; c < k; ++c) {
      std::vector<double> w(n);
      for (size_t p = 0; p < n; ++p) {
        w[p] = precincts[p].registered * (c == 0 ? precincts[p].lean : 1.0 / precincts[p].lean);
      }
      std::vector<int64_t> col = Apportion(per_candidate[c], w);
      for (size_t p = 0; p < n; ++p) by_precinct[p][c] = col[p];
    }
    return by_precinct;
  };
  std::vector<int64_t> eday(k);
  for (size_t c = 0; c < k; ++c) eday[c] = finals[c] - early[c];
  const auto early_p = spread(early);
  const auto eday_p = spread(eday);

  Feed feed;
  RaceDefinitionEvent def;
  def.race_id = "ga-06-2017-04-18";
  def.name = "GA-06 special election, April 18, 2017";
  def.version = 1;
  def.source = "synthetic:april18";
  for (const auto& c : cands) {
    const std::string surname = c.name.substr(c.name.rfind(' ') + 1);
    def.candidates.push_back({Slug(c.name), c.name, c.party, {surname}});
  }
  def.candidates[0].aliases = {"Ossoff", "@ossoff", "#Ossoff"};
  def.candidates[1].aliases = {"Handel", "@karenhandel", "#Handel"};
  for (const P& p : precincts) {
    def.precincts.push_back({absl::StrFormat("%s-%03d", Slug(p.county), p.number),
                             absl::StrFormat("%s %03d", p.county, p.number), p.county,
                             p.registered});
  }

  auto tally = [&](size_t p, uint64_t version, int64_t t, std::vector<int64_t> votes,
                   std::vector<int64_t> e, std::vector<int64_t> d, bool complete) {
    TallyEvent ev;
    ev.race_id = def.race_id;
    ev.precinct_id = def.precincts[p].id;
    ev.precinct_name = def.precincts[p].name;
    ev.county = precincts[p].county;
    ev.version = version;
    ev.event_time_ms = t;
    int64_t sum = 0;
    for (int64_t v : votes) sum += v;
    ev.votes = std::move(votes);
    ev.by_type = VoteTypeBreakdown{std::move(e), {}, std::move(d), {}};
    ev.ballots_cast = sum;
    ev.registered_voters = precincts[p].registered;
    ev.complete = complete;
    ev.source = "synthetic:april18";
    feed.tallies.push_back(std::move(ev));
  };

  // Early and absentee ballots post first, county by county, 19:20-20:30.
  std::uniform_int_distribution<int64_t> early_minute(20, 90);
  for (size_t p = 0; p < n; ++p) {
    tally(p, 1, kPollsCloseMs + early_minute(rng) * kMinuteMs, early_p[p], early_p[p],
          std::vector<int64_t>(k, 0), false);
  }
  // Election-day precincts trickle in 20:00-02:00; Fulton pauses
  // 23:30-01:30 for the memory-card error, then catches up.
  std::uniform_int_distribution<int64_t> eday_minute(60, 420);
  std::vector<size_t> corrected;
  for (size_t p = 0; p < n; ++p) {
    int64_t minute = eday_minute(rng);
    if (precincts[p].county == "Fulton" && minute >= 270 && minute < 390) minute += 120;
    std::vector<int64_t> final_votes(k);
    for (size_t c = 0; c < k; ++c) final_votes[c] = early_p[p][c] + eday_p[p][c];
    const int64_t t = kPollsCloseMs + minute * kMinuteMs;
    if (p % 70 == 13) {
      // Over-reported first (a transposed digit in Handel's count), corrected
      // 40 minutes later with a higher version and a lower count.
      std::vector<int64_t> wrong = final_votes, wrong_eday = eday_p[p];
      wrong[1] += 900;
      wrong_eday[1] += 900;
      tally(p, 2, t, wrong, early_p[p], wrong_eday, true);
      tally(p, 3, t + 40 * kMinuteMs, final_votes, early_p[p], eday_p[p], true);
    } else {
      tally(p, 2, t, final_votes, early_p[p], eday_p[p], true);
    }
  }
  std::stable_sort(
      feed.tallies.begin(), feed.tallies.end(),
      [](const TallyEvent& a, const TallyEvent& b) { return a.event_time_ms < b.event_time_ms; });
  feed.races.push_back(std::move(def));
  return feed;
}

Feed GenerateScaleNight(const ScaleOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int64_t> reg(500, 4000);
  Feed feed;
  const int64_t t0 = kPollsCloseMs;
  for (int r = 0; r < o.races; ++r) {
    RaceDefinitionEvent def;
    def.race_id = absl::StrCat("scale-", r);
    def.name = absl::StrCat("Scale race ", r);
    def.version = 1;
    def.source = "synthetic:scale";
    for (int c = 0; c < o.candidates; ++c) {
      def.candidates.push_back({absl::StrCat("c", c), absl::StrCat("Candidate ", c), "", {}});
    }
    std::vector<double> pref(o.candidates);
    std::uniform_real_distribution<double> u(0.5, 1.5);
    for (double& w : pref) w = u(rng);
    for (int p = 0; p < o.precincts; ++p) {
      const int64_t registered = reg(rng);
      def.precincts.push_back({absl::StrCat("p", p), absl::StrCat("Precinct ", p),
                               absl::StrCat("County ", p % 8), registered});
      const int64_t turnout = registered * (30 + static_cast<int64_t>(rng() % 40)) / 100;
      std::vector<int64_t> final_votes = Apportion(turnout, pref);
      for (int v = 1; v <= o.versions; ++v) {
        TallyEvent ev;
        ev.race_id = def.race_id;
        ev.precinct_id = def.precincts.back().id;
        ev.county = def.precincts.back().county;
        ev.version = static_cast<uint64_t>(v);
        ev.event_time_ms = t0 + (static_cast<int64_t>(p) * o.versions + v) * 1000;
        ev.votes.resize(o.candidates);
        int64_t sum = 0;
        for (int c = 0; c < o.candidates; ++c) {
          ev.votes[c] = final_votes[c] * v / o.versions;
          sum += ev.votes[c];
        }
        ev.ballots_cast = sum;
        ev.registered_voters = registered;
        ev.complete = v == o.versions;
        ev.source = "synthetic:scale";
        feed.tallies.push_back(std::move(ev));
      }
    }
    feed.races.push_back(std::move(def));
  }
  return feed;
}

}  // namespace tallywire
