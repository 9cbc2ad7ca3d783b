#include "consumers/alerts/burst.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tallywire {

int64_t BurstDetector::Sum(int64_t from, int64_t to, size_t slot) const {
  int64_t n = 0;
  for (int64_t i = std::max(from, history_first_); i <= to; ++i) {
    const std::vector<int64_t>& b = history_[static_cast<size_t>(i - history_first_)];
    if (slot < b.size()) n += b[slot];
  }
  return n;
}

void BurstDetector::Remember(const MentionsView& view, int64_t longest_buckets) {
  const int64_t first = view.first_bucket;
  const int64_t end = first + static_cast<int64_t>(view.bucket_mentions.size());
  const int64_t history_end = history_first_ + static_cast<int64_t>(history_.size());
  if (history_.empty() || first > history_end) {
    // First look, or the windows moved on further than a ring since the
    // last one: what lies before `first` is unknown, so a bucket is judged
    // only once its whole longest window is known, unless the stream began
    // inside the ring.
    history_.clear();
    history_first_ = first;
    const int64_t began = view.min_event_ms / view.bucket_ms;
    next_ = std::max(next_, began >= first ? began : first + longest_buckets - 1);
  }
  for (int64_t i = std::max(first, history_first_); i < end; ++i) {
    const auto at = static_cast<size_t>(i - history_first_);
    if (at >= history_.size()) history_.resize(at + 1);
    history_[at] = view.bucket_mentions[static_cast<size_t>(i - first)];
  }
}

void BurstDetector::Detect(const MentionsView& view, const std::vector<MentionSlot>& slots,
                           int64_t now_ms, std::vector<AlertEvent>* fired) {
  if (view.windows.size() < 2 || view.max_event_ms < 0 || view.bucket_ms <= 0 ||
      view.bucket_mentions.empty()) {
    return;
  }
  const int64_t bucket_ms = view.bucket_ms;
  const int64_t recent_buckets = view.windows.front().span_ms / bucket_ms;
  const int64_t longest_buckets = view.windows.back().span_ms / bucket_ms;
  Remember(view, longest_buckets);
  const int64_t head = view.first_bucket + static_cast<int64_t>(view.bucket_mentions.size()) - 1;
  // Buckets past the slowest partition's head may still get its posts:
  // judged once it gets there, unless it falls so far behind (half the
  // ring) that waiting would lose buckets from the ring.
  const int64_t through =
      std::min(head, std::max(view.slowest_head_bucket,
                              head - static_cast<int64_t>(view.bucket_mentions.size()) / 2));
  if (in_burst_.size() < slots.size()) in_burst_.resize(slots.size(), false);
  for (int64_t b = next_; b <= through; ++b) {
    const int64_t at_ms = std::min(view.max_event_ms, (b + 1) * bucket_ms - 1);
    Judge(b, at_ms, view.min_event_ms, recent_buckets, longest_buckets, bucket_ms, slots, now_ms,
          fired);
  }
  // The last bucket judged may still grow: judged again at the next look.
  // Earlier ones are not, so verdicts (and the hysteresis) move forward.
  next_ = std::max(next_, through);
  const int64_t keep_from = next_ - longest_buckets + 1;
  while (!history_.empty() && history_first_ < keep_from) {
    history_.pop_front();
    ++history_first_;
  }
}

void BurstDetector::Judge(int64_t bucket, int64_t at_ms, int64_t min_event_ms,
                          int64_t recent_buckets, int64_t longest_buckets, int64_t bucket_ms,
                          const std::vector<MentionSlot>& slots, int64_t now_ms,
                          std::vector<AlertEvent>* fired) {
  const int64_t recent_ms = recent_buckets * bucket_ms;
  const int64_t covered = std::min(longest_buckets * bucket_ms, at_ms - min_event_ms);
  if (covered < absl::ToInt64Milliseconds(rules_.warmup) || covered <= recent_ms) return;
  const double recent_minutes = recent_ms / 60000.0;
  const double before_minutes = (covered - recent_ms) / 60000.0;
  for (size_t s = 0; s < slots.size(); ++s) {
    const int64_t now_count = Sum(bucket - recent_buckets + 1, bucket, s);
    const int64_t long_count = Sum(bucket - longest_buckets + 1, bucket, s);
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
    a.id = absl::StrCat(slot.race_id, "/social_burst/", slot.candidate_id, "/", at_ms / 60000);
    a.kind = wire::AlertKind::SocialBurst;
    a.race_id = slot.race_id;
    a.candidate_id = slot.candidate_id;
    a.candidate_name = slot.candidate_name;
    a.threshold_bp = static_cast<int32_t>(rules_.factor * 10000);
    a.share_bp = static_cast<int32_t>(std::min(ratio * 10000, 2e9));
    a.votes = now_count;
    a.total_votes = long_count;
    a.event_time_ms = at_ms;
    a.detect_time_ms = now_ms;
    a.message = absl::StrFormat(
        "Burst: %s mentioned %d times in the last %s, %.1fx the baseline of %.1f a minute",
        slot.candidate_name, now_count,
        recent_ms == 60000 ? std::string("minute")
                           : absl::FormatDuration(absl::Milliseconds(recent_ms)),
        ratio, baseline);
    fired->push_back(std::move(a));
  }
}

}  // namespace tallywire
