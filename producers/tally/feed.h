// Feed: what a tally source produces, ready to publish: the race
// definitions, then the precinct reports (cumulative, versioned).
//
//   Feed feed = GenerateApril18Night({.seed = 7});
//   TW_ASSIGN_OR_RETURN(Feed feed, ReadOpenElectionsCsv({"cobb.csv"}, {}, &report));
#pragma once

#include <string>
#include <vector>

#include "core/codec.h"

namespace tallywire {

struct Feed {
  std::vector<RaceDefinitionEvent> races;
  std::vector<TallyEvent> tallies;
};

// Final per-candidate totals of each race: the latest version of every
// precinct, summed. What a correct aggregator must end with.
struct ExpectedRace {
  std::string race_id;
  std::vector<int64_t> votes;
  int64_t ballots_cast = 0;
  int64_t precincts = 0;
  int64_t precincts_complete = 0;
};
std::vector<ExpectedRace> ExpectedTotals(const Feed& feed);

}  // namespace tallywire
