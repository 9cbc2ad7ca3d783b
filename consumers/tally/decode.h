// Decode: bytes from the tallies topic -> a TallyUpdate resolved against the
// race it belongs to. Everything that can be wrong with a tally is found
// here, before the aggregate is touched; each error carries a reason label
// (core/reason.h) for the dead-letter topic.
//
//   TW_ASSIGN_OR_RETURN(DecodedTally d, DecodeTally(bytes, find_race));
//   d.race->Apply(d.update);
#pragma once

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "consumers/tally/race.h"

namespace tallywire {

struct DecodedTally {
  RaceState* race = nullptr;
  TallyUpdate update;
  const wire::PrecinctTally* wire = nullptr;  // points into the input bytes
  // A tally counted before candidates were appended to its race (a write-in
  // that appeared later) has fewer votes: they are these, zero-padded.
  std::vector<int64_t> padded;
};

// Reasons: "undecodable" (verifier, identifier, size), "invalid_counts"
// (negative, overflowing, by-type mismatch), "unknown_race",
// "unknown_precinct", "candidate_mismatch" (more votes than candidates).
absl::StatusOr<DecodedTally> DecodeTallyFor(
    absl::Span<const uint8_t> bytes, absl::FunctionRef<RaceState*(absl::string_view)> find_race);
// The same for a tally already verified (DecodeTally): resolves it only.
absl::StatusOr<DecodedTally> ResolveTally(const wire::PrecinctTally& tally, RaceState* race);

}  // namespace tallywire
