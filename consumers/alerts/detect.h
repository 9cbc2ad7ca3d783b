// Detector: after each applied tally, compares a race's state with what it
// has already announced and emits the alerts that are due.
//
//   RaceDetector detector(rules);
//   detector.Detect(race, trigger, &alerts);   // race owner's thread only
//
// One crossing gives one alert. A share alert fires when a candidate's share
// leaves the band [t - h, t + h] on the other side from where it was last
// announced (every candidate starts "below": 0 votes is 0 %), so noise
// inside the band never flaps; a leader change likewise needs a lead wider
// than the band. Certainty and milestone alerts fire once per
// race. Alert ids are a pure function of the race, the rule and how many
// times that rule fired, so replaying the same input yields the same ids,
// and a consumer restoring a race replays its detector to the same state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "consumers/alerts/rules.h"
#include "consumers/tally/race.h"
#include "core/codec.h"

namespace tallywire {

// Where the event that may trigger alerts came from.
struct Trigger {
  int64_t event_time_ms = 0;
  int64_t produce_time_ms = 0;
  absl::string_view topic;
  int32_t partition = -1;
  int64_t offset = -1;
};

class RaceDetector {
 public:
  RaceDetector(const AlertRules& rules, const RaceModel& model);
  void Detect(const RaceState& race, const Trigger& trigger, std::vector<AlertEvent>* out);

  // What decides which alerts have fired, for the state changelog: it
  // changes only when Detect emits an alert. Load refuses bytes that do not
  // fit these rules and this many candidates (a rules change restarts the
  // detector rather than misreading its past).
  std::string SaveState() const;
  absl::Status LoadState(absl::string_view bytes);
  // The race gained candidates (appended, e.g. a write-in): they start below
  // every threshold; what the others announced is kept.
  void Grow(size_t candidates);

 private:
  enum class Side : uint8_t { kBelow, kAbove };
  AlertEvent Make(const RaceState& race, const Trigger& t, wire::AlertKind kind, int candidate,
                  int32_t threshold_bp, uint32_t seq) const;

  const AlertRules& rules_;
  std::vector<Side> side_;       // candidates x thresholds
  std::vector<uint32_t> fired_;  // candidates x thresholds: crossings so far
  int leader_ = -1;
  uint32_t leader_changes_ = 0;
  bool runoff_fired_ = false;
  bool winner_fired_ = false;
  std::vector<bool> milestone_fired_;
};

// "Jon Ossoff fell below 50.0 % (49.93 %, 61 % of precincts reporting)"
std::string FormatPercentBp(int64_t bp);

}  // namespace tallywire
