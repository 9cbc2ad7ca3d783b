// Fuzz target: a race definition from the tallies topic, decoded, turned into
// the RaceModel the service keeps, and given a RaceState, as a worker does
// when a definition arrives; the value round-trips through the encoder.
#include <cstdint>

#include "consumers/tally/race.h"
#include "core/codec.h"
#include "fuzz/roundtrip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tallywire;
  static AlignedBytes aligned;
  absl::StatusOr<const wire::RaceDefinition*> r = DecodeRaceDefinition(aligned.Align({data, size}));
  if (!r.ok()) return 0;
  fuzz::CheckRoundTrip(**r, EncodeRaceDefinition, DecodeRaceDefinition);
  absl::StatusOr<std::shared_ptr<const RaceModel>> model = RaceModel::FromWire(**r);
  if (!model.ok()) return 0;
  RaceState race(*model);
  for (const auto& p : (*model)->precincts) (void)(*model)->FindPrecinct(p.id);
  race.Publish();
  (void)race.Snapshot();
  return 0;
}
