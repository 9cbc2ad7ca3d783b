// Sliding windows over posts in event time, for one partition's owner:
// posts, mentions per slot (a race's candidate) and top hashtags over the
// last 1, 5 and 15 minutes, plus all-time totals.
//
//   MentionWindows w(WindowOptions{});
//   w.Add({.id_hash = h, .created_at_ms = t, .slots = slots, .hashtags = tags});
//   w.Publish();                               // owner, now and then
//   MentionsView v = w.Read();                 // any thread, never blocks
//
// Semantics (the brute-force reference in the tests says the same thing):
// time is cut into buckets of `bucket`; the head is the bucket of the latest
// created_at seen. A post is counted in the windows when it is no older
// than the watermark, the latest created_at minus `grace`; older posts are
// counted as late, outside the windows (they still count in the totals).
// A window of span W holds the buckets (head - W/bucket, head]. A post id
// seen again while the first copy's bucket is still kept (the longest span
// plus grace) is a duplicate and counted nowhere.
//
// Design: one writer (the partition's owner) updates the buckets and keeps
// a running sum per window, so a post costs O(slots it names + hashtags)
// and moving the head costs O(buckets leaving × slots). Readers never touch
// that state: Publish() copies the totals, the window sums and each
// window's merged hashtag summary into a SeqlockBuffer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "consumers/social/top_k.h"
#include "core/seqlock_buffer.h"

namespace tallywire {

struct WindowOptions {
  std::vector<absl::Duration> spans = {absl::Minutes(1), absl::Minutes(5), absl::Minutes(15)};
  absl::Duration bucket = absl::Seconds(5);
  absl::Duration grace = absl::Seconds(30);
  int hashtag_capacity = 64;  // Space-Saving counters per bucket
  size_t hashtag_limit = 20;  // hashtags kept per window in a view
};

struct PostUpdate {
  uint64_t id_hash = 0;
  int64_t created_at_ms = 0;
  absl::Span<const int32_t> slots;         // distinct
  absl::Span<const std::string> hashtags;  // distinct
};

struct WindowCounts {
  int64_t span_ms = 0;
  int64_t posts = 0;
  std::vector<int64_t> mentions;  // by slot
  TopK hashtags;
};

struct MentionsView {
  int64_t max_event_ms = -1;  // -1: nothing seen
  int64_t min_event_ms = -1;  // earliest created_at counted in the windows
  int64_t watermark_ms = -1;
  int64_t posts = 0, late = 0, duplicates = 0;  // totals
  std::vector<int64_t> mentions;                // all-time, by slot
  std::vector<WindowCounts> windows;            // in the order of WindowOptions::spans
  // Mentions by slot of every bucket the ring can still hold, oldest first:
  // bucket `first_bucket + i` (absolute number, created_at / bucket_ms) is
  // bucket_mentions[i]. A detector that must judge every bucket in event
  // time reads these; a bucket without posts is empty.
  int64_t bucket_ms = 0;
  int64_t first_bucket = 0;
  std::vector<std::vector<int64_t>> bucket_mentions;
  // Merged views: the head bucket of the partition furthest behind (the
  // buckets after it may still get that partition's posts); one view: its
  // head.
  int64_t slowest_head_bucket = 0;
};

// Sums views of disjoint partitions. Each partition's windows end at its own
// head; the merged windows end at the latest, so a partition that lags by a
// bucket contributes a window that ends a bucket early. Buckets are summed
// by number, from the latest `first_bucket` of any view (older ones some
// partition no longer holds) to the latest head.
MentionsView MergeViews(const std::vector<MentionsView>& views, size_t hashtag_limit);

class MentionWindows {
 public:
  enum class Outcome { kCounted, kLate, kDuplicate };

  explicit MentionWindows(WindowOptions options);

  Outcome Add(const PostUpdate& post);  // owner only
  void Publish();                       // owner only
  MentionsView Read() const;            // any thread

  const WindowOptions& options() const { return options_; }

 private:
  struct Bucket {
    int64_t index = INT64_MIN;  // absolute bucket number; INT64_MIN: empty
    int64_t posts = 0;
    std::vector<int64_t> mentions;
    SpaceSaving hashtags;
    std::vector<uint64_t> ids;
    explicit Bucket(int capacity) : hashtags(capacity) {}
  };
  // Window ranges reach below bucket 0 early in the epoch: wrap those too.
  Bucket& At(int64_t index) {
    return ring_[static_cast<size_t>((index % ring_size() + ring_size()) % ring_size())];
  }
  int64_t ring_size() const { return static_cast<int64_t>(ring_.size()); }
  void Advance(int64_t head);
  void Evict(Bucket& b);
  static void Grow(std::vector<int64_t>& v, size_t n) {
    if (v.size() < n) v.resize(n, 0);
  }

  WindowOptions options_;
  int64_t bucket_ms_;
  std::vector<int64_t> span_buckets_;
  std::vector<Bucket> ring_;
  int64_t head_ = INT64_MIN;
  int64_t max_event_ms_ = -1;
  int64_t min_event_ms_ = -1;
  absl::flat_hash_set<uint64_t> seen_;  // ids of posts still in the ring
  MentionsView totals_;                 // windows hold running sums
  SeqlockBuffer published_;
  std::vector<int64_t> words_;  // scratch for Publish
};

}  // namespace tallywire
