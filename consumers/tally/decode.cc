#include "consumers/tally/decode.h"

#include "absl/strings/str_cat.h"
#include "core/reason.h"

namespace tallywire {

absl::StatusOr<DecodedTally> DecodeTallyFor(
    absl::Span<const uint8_t> bytes, absl::FunctionRef<RaceState*(absl::string_view)> find_race) {
  absl::StatusOr<const wire::PrecinctTally*> t = DecodeTally(bytes);
  if (!t.ok()) {
    return HasReason(t.status()) ? t.status() : WithReason("undecodable", t.status());
  }
  return ResolveTally(**t, find_race(View((*t)->race_id())));
}

absl::StatusOr<DecodedTally> ResolveTally(const wire::PrecinctTally& tally, RaceState* race) {
  DecodedTally d;
  d.wire = &tally;
  d.race = race;
  if (d.race == nullptr) {
    return WithReason("unknown_race", absl::NotFoundError(absl::StrCat(
                                          "race ", View(tally.race_id()), " has no definition")));
  }
  const RaceModel& model = d.race->model();
  std::optional<PrecinctIndex> p = model.FindPrecinct(View(tally.precinct_id()));
  if (!p) {
    return WithReason(
        "unknown_precinct",
        absl::NotFoundError(absl::StrCat("race ", model.race_id, ": precinct ",
                                         View(tally.precinct_id()), " is not in its definition")));
  }
  if (tally.votes()->size() > model.candidate_count()) {
    return WithReason(
        "candidate_mismatch",
        absl::InvalidArgumentError(absl::StrCat(
            "race ", model.race_id, " has ", model.candidate_count(), " candidates, tally for ",
            View(tally.precinct_id()), " has ", tally.votes()->size())));
  }
  d.update.precinct = *p;
  d.update.version = tally.version();
  d.update.event_time_ms = tally.event_time_ms();
  d.update.votes = absl::Span<const int64_t>(tally.votes()->data(), tally.votes()->size());
  if (d.update.votes.size() < model.candidate_count()) {
    d.padded.assign(model.candidate_count(), 0);
    std::copy(d.update.votes.begin(), d.update.votes.end(), d.padded.begin());
    d.update.votes = d.padded;
  }
  d.update.ballots_cast = tally.ballots_cast();
  d.update.complete = tally.complete();
  return d;
}

}  // namespace tallywire
