// Fuzz target: a tally from the tallies topic, decoded and applied the way
// Worker::OnTally does (AlignedBytes, DecodeTallyFor, Apply, Publish), against
// the race of tests/golden/race.bin. A tally that decodes must also survive a
// later, ordinary correction of the same precinct and a snapshot: hostile
// values that pass the decoder must not break the arithmetic after them.
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "consumers/tally/decode.h"
#include "consumers/tally/race.h"
#include "core/codec.h"

namespace tallywire {
namespace {

std::shared_ptr<const RaceModel> GoldenRace() {
  RaceDefinitionEvent r;
  r.race_id = "us-house-6";
  r.name = "U.S. House 6";
  r.candidates = {{"karen-handel", "Karen Handel", "R", {"Handel"}},
                  {"jon-ossoff", "Jon Ossoff", "D", {"Ossoff", "#Ossoff"}}};
  r.precincts = {{"Cobb/Addison 01", "Addison 01", "Cobb", 2184},
                 {"Cobb/Addison 02", "Addison 02", "Cobb", -1},
                 {"Fulton/Alpharetta 01", "Alpharetta 01", "Fulton", 1500}};
  r.version = 7;
  auto model = RaceModel::FromEvent(r);
  if (!model.ok()) std::abort();
  return *model;
}

}  // namespace
}  // namespace tallywire

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tallywire;
  static const std::shared_ptr<const RaceModel> model = GoldenRace();
  static AlignedBytes aligned;
  // Fresh state per input: a finding must reproduce from its one input.
  RaceState race(model);
  const absl::Span<const uint8_t> bytes = aligned.Align({data, size});
  absl::StatusOr<DecodedTally> d = DecodeTallyFor(
      bytes, [&](absl::string_view id) { return id == model->race_id ? &race : nullptr; });
  if (!d.ok()) return 0;
  race.Apply(d->update);
  race.Publish();
  const int64_t votes[2] = {10, 20};
  race.Apply({.precinct = d->update.precinct,
              .version = d->update.version + 1,
              .event_time_ms = 1497999600000,
              .votes = votes,
              .ballots_cast = 30});
  race.Publish();
  RaceSnapshot s = race.Snapshot();
  for (size_t c = 0; c < model->candidate_count(); ++c) {
    (void)s.ShareBp(c);
    (void)s.WindowShareBp(c);
  }
  (void)ToValue(*d->wire);
  return 0;
}
