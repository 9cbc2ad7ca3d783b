#include "consumers/alerts/burst.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tallywire {

void BurstDetector::Detect(const MentionsView& view, const std::vector<MentionSlot>& slots,
                           int64_t now_ms, std::vector<AlertEvent>* fired) {
  if (view.windows.size() < 2 || view.max_event_ms < 0) return;
  const WindowCounts& recent = view.windows.front();
  const WindowCounts& longest = view.windows.back();
  const int64_t covered = std::min(longest.span_ms, view.max_event_ms - view.min_event_ms);
  if (covered < absl::ToInt64Milliseconds(rules_.warmup) || covered <= recent.span_ms) return;
  const double recent_minutes = recent.span_ms / 60000.0;
  const double before_minutes = (covered - recent.span_ms) / 60000.0;
  if (in_burst_.size() < slots.size()) in_burst_.resize(slots.size(), false);
  for (size_t s = 0; s < slots.size(); ++s) {
    const int64_t now_count = s < recent.mentions.size() ? recent.mentions[s] : 0;
    const int64_t long_count = s < longest.mentions.size() ? longest.mentions[s] : 0;
    const double rate = now_count / recent_minutes;
    const double baseline =
        std::max(rules_.min_baseline, (long_count - now_count) / before_minutes);
    if (in_burst_[s]) {
      if (rate < rules_.rearm_factor * baseline) in_burst_[s] = false;
      continue;
    }
    if (rate < rules_.factor * baseline || now_count < rules_.min_mentions) continue;
    in_burst_[s] = true;
    const MentionSlot& slot = slots[s];
    const double ratio = rate / baseline;
    AlertEvent a;
    a.id = absl::StrCat(slot.race_id, "/social_burst/", slot.candidate_id, "/",
                        view.max_event_ms / 60000);
    a.kind = wire::AlertKind::SocialBurst;
    a.race_id = slot.race_id;
    a.candidate_id = slot.candidate_id;
    a.candidate_name = slot.candidate_name;
    a.threshold_bp = static_cast<int32_t>(rules_.factor * 10000);
    a.share_bp = static_cast<int32_t>(std::min(ratio * 10000, 2e9));
    a.votes = now_count;
    a.total_votes = long_count;
    a.event_time_ms = view.max_event_ms;
    a.detect_time_ms = now_ms;
    a.message = absl::StrFormat(
        "Burst: %s mentioned %d times in the last %s, %.1fx the baseline of %.1f a minute",
        slot.candidate_name, now_count,
        recent.span_ms == 60000 ? std::string("minute")
                                : absl::FormatDuration(absl::Milliseconds(recent.span_ms)),
        ratio, baseline);
    fired->push_back(std::move(a));
  }
}

}  // namespace tallywire
