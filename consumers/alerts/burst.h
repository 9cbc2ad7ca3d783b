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
// (SocialOptions::publish_interval). It judges in event time, not at the
// tick: it keeps the merged per-bucket mentions it has seen and judges the
// window ending at every bucket since its last look, so however fast a
// replay or a catch-up moves event time between two ticks, no bucket goes
// unjudged. It judges up to the head of the slowest partition (the later
// buckets may still get that partition's posts; a partition more than half
// the ring behind stops holding them back); that last bucket may still
// grow, so it is judged again at the next look; earlier ones are not, so
// verdicts move forward in event time and the hysteresis holds across
// looks. The one limit: a look must come before a
// bucket leaves the windows' ring (the longest span plus the grace), or
// the detector starts over from what the ring still holds. Alert ids are
// race/social_burst/candidate/<minute of the bucket that fired>, so two
// processes that see the same burst publish the same id.
#pragma once

#include <cstdint>
#include <deque>
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

  // Judges every bucket from the last final one to the view's head;
  // appends the bursts that start in them to *fired.
  void Detect(const MentionsView& view, const std::vector<MentionSlot>& slots, int64_t now_ms,
              std::vector<AlertEvent>* fired);

  bool in_burst(int32_t slot) const {
    return static_cast<size_t>(slot) < in_burst_.size() && in_burst_[slot];
  }

 private:
  void Remember(const MentionsView& view, int64_t longest_buckets);
  void Judge(int64_t bucket, int64_t at_ms, int64_t min_event_ms, int64_t recent_buckets,
             int64_t longest_buckets, int64_t bucket_ms, const std::vector<MentionSlot>& slots,
             int64_t now_ms, std::vector<AlertEvent>* fired);
  int64_t Sum(int64_t from, int64_t to, size_t slot) const;  // buckets [from, to]

  BurstRules rules_;
  std::vector<bool> in_burst_;
  int64_t next_ = INT64_MIN;                  // first bucket to judge at the next look
  int64_t history_first_ = 0;                 // bucket number of history_[0]
  std::deque<std::vector<int64_t>> history_;  // merged mentions by slot, per bucket
};

}  // namespace tallywire
