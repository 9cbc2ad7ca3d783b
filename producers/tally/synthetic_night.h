// Synthetic election nights: the April 18, 2017 GA-06 night, calibrated to
// data/ga06-2017-04-18/scenario.json, and a seeded scale generator for load.
//
//   Feed night = GenerateApril18Night({.seed = 1});
//   Feed load = GenerateScaleNight({.races = 10, .precincts = 1000, .candidates = 5});
//
// The April night is built top-down so its totals are exact: final votes per
// candidate come from the certified shares, are split into early/absentee
// and election-day ballots (Ossoff ran far ahead in early votes, behind on
// the day), then apportioned to precincts by registered voters and county
// lean with the largest-remainder method, so every column sums exactly.
// Reports arrive as counties post them: early and absentee ballots first
// (partial precincts), election-day precincts trickling in, Fulton paused
// for two hours (the memory-card error), and a few late corrections that
// lower an over-reported count with a higher version.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "producers/tally/feed.h"

namespace tallywire {

struct April18Options {
  uint64_t seed = 2017;
};

struct ScenarioCandidate {
  std::string name, party;
  double final_pct;  // < 0: unknown, share of "others"
};

// The 18 candidates and certified shares (scenario.json).
const std::vector<ScenarioCandidate>& April18Candidates();
inline constexpr int64_t kApril18Ballots = 192569;

Feed GenerateApril18Night(const April18Options& options);

struct ScaleOptions {
  int races = 4;
  int precincts = 1000;  // per race
  int candidates = 5;
  int versions = 3;  // reports per precinct (cumulative, increasing)
  uint64_t seed = 1;
};

// races x precincts x versions tally events, every version of a precinct
// cumulative; the last version is complete.
Feed GenerateScaleNight(const ScaleOptions& options);

}  // namespace tallywire
