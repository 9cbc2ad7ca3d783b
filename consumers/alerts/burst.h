// BurstDetector: a candidate's mentions in the last minute against its own
// slow-moving baseline, one alert per burst.
//
//   BurstDetector d(BurstRules{});
//   std::vector<AlertEvent> fired;
//   d.Detect(merged_view, catalog.slots(), now_ms, &fired);
//
// Rate: mentions in the shortest window, per minute. Baseline: mentions in
// the longest window minus the shortest, per minute of the time that part
// covers (so it is the rate of the minutes before the last one), at least
// `min_baseline`. A burst starts when rate >= factor × baseline and rate >=
// min_mentions, and ends (re-arming the alert) when rate < rearm_factor ×
// baseline: hysteresis, so a rate hovering at the trigger fires once. No
// verdict before `warmup` of event time has been seen, when the baseline
// would be a guess.
//
// Design: one detector per process, fed the views of every posts partition
// this process owns, merged (see MentionWindows), on a wall-clock tick
// (SocialOptions::publish_interval). Live, event time runs with the clock
// and a tick sees every minute; a replay many times faster than real time
// can carry a short burst past between two ticks. Alert ids are
// race/social_burst/candidate/<minute the burst started>, so two
// processes that see the same burst publish the same id.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "consumers/social/catalog.h"
#include "consumers/social/windows.h"
#include "core/codec.h"

namespace tallywire {

struct BurstRules {
  double factor = 3.0;
  double rearm_factor = 1.5;
  int64_t min_mentions = 20;  // in the last minute
  double min_baseline = 2.0;  // per minute
  absl::Duration warmup = absl::Minutes(5);
};

class BurstDetector {
 public:
  explicit BurstDetector(BurstRules rules) : rules_(rules) {}

  // Appends the bursts that start now to *fired.
  void Detect(const MentionsView& view, const std::vector<MentionSlot>& slots, int64_t now_ms,
              std::vector<AlertEvent>* fired);

  bool in_burst(int32_t slot) const {
    return static_cast<size_t>(slot) < in_burst_.size() && in_burst_[slot];
  }

 private:
  BurstRules rules_;
  std::vector<bool> in_burst_;
};

}  // namespace tallywire
