#include "producers/tally/feed.h"

#include <map>

namespace tallywire {

std::vector<ExpectedRace> ExpectedTotals(const Feed& feed) {
  std::vector<ExpectedRace> out;
  for (const RaceDefinitionEvent& r : feed.races) {
    ExpectedRace e{r.race_id, std::vector<int64_t>(r.candidates.size(), 0)};
    std::map<std::string, const TallyEvent*> latest;
    for (const TallyEvent& t : feed.tallies) {
      if (t.race_id != r.race_id) continue;
      const TallyEvent*& cur = latest[t.precinct_id];
      if (cur == nullptr || t.version > cur->version) cur = &t;
    }
    for (const auto& [id, t] : latest) {
      int64_t sum = 0;
      for (size_t c = 0; c < e.votes.size() && c < t->votes.size(); ++c) {
        e.votes[c] += t->votes[c];
        sum += t->votes[c];
      }
      e.ballots_cast += t->ballots_cast >= 0 ? t->ballots_cast : sum;
      ++e.precincts;
      e.precincts_complete += t->complete;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace tallywire
