#include "consumers/social/windows.h"

#include <algorithm>
#include <cstring>

#include "consumers/social/match.h"

namespace tallywire {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

constexpr size_t kTagWords = (kMaxHashtagBytes + 7) / 8;

void PutTag(const std::string& tag, std::vector<int64_t>* w) {
  const size_t n = std::min(tag.size(), kMaxHashtagBytes);
  w->push_back(static_cast<int64_t>(n));
  int64_t chunk[kTagWords] = {};
  std::memcpy(chunk, tag.data(), n);
  w->insert(w->end(), chunk, chunk + kTagWords);
}

std::string GetTag(const int64_t*& p) {
  const auto n = static_cast<size_t>(*p++);
  std::string tag(reinterpret_cast<const char*>(p), std::min(n, kMaxHashtagBytes));
  p += kTagWords;
  return tag;
}

void PutCounts(const std::vector<int64_t>& v, std::vector<int64_t>* w) {
  w->push_back(static_cast<int64_t>(v.size()));
  w->insert(w->end(), v.begin(), v.end());
}

std::vector<int64_t> GetCounts(const int64_t*& p) {
  const auto n = static_cast<size_t>(*p++);
  std::vector<int64_t> v(p, p + n);
  p += n;
  return v;
}

void AddInto(std::vector<int64_t>& into, const std::vector<int64_t>& v) {
  if (into.size() < v.size()) into.resize(v.size(), 0);
  for (size_t i = 0; i < v.size(); ++i) into[i] += v[i];
}

}  // namespace

MentionWindows::MentionWindows(WindowOptions options)
    : options_(std::move(options)),
      bucket_ms_(std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.bucket))) {
  int64_t longest = 1;
  for (absl::Duration span : options_.spans) {
    const int64_t n = std::max<int64_t>(1, CeilDiv(absl::ToInt64Milliseconds(span), bucket_ms_));
    span_buckets_.push_back(n);
    longest = std::max(longest, n);
    totals_.windows.push_back({.span_ms = n * bucket_ms_});
  }
  const int64_t grace = CeilDiv(absl::ToInt64Milliseconds(options_.grace), bucket_ms_);
  ring_.assign(static_cast<size_t>(longest + grace + 2), Bucket(options_.hashtag_capacity));
}

void MentionWindows::Evict(Bucket& b) {
  for (uint64_t id : b.ids) seen_.erase(id);
  b.ids.clear();
  b.posts = 0;
  std::fill(b.mentions.begin(), b.mentions.end(), 0);
  b.hashtags.Clear();
  b.index = INT64_MIN;
}

void MentionWindows::Advance(int64_t head) {
  // Buckets leave each window first, while the ring still holds them.
  for (size_t j = 0; j < span_buckets_.size(); ++j) {
    WindowCounts& w = totals_.windows[j];
    for (int64_t i = head_ - span_buckets_[j] + 1; i <= std::min(head - span_buckets_[j], head_);
         ++i) {
      const Bucket& b = At(i);
      if (b.index != i) continue;
      w.posts -= b.posts;
      for (size_t s = 0; s < b.mentions.size(); ++s) w.mentions[s] -= b.mentions[s];
    }
  }
  for (int64_t i = std::max(head_ + 1, head - ring_size() + 1); i <= head; ++i) {
    Bucket& b = At(i);
    Evict(b);
    b.index = i;
  }
  head_ = head;
}

MentionWindows::Outcome MentionWindows::Add(const PostUpdate& post) {
  if (seen_.contains(post.id_hash)) {
    ++totals_.duplicates;
    return Outcome::kDuplicate;
  }
  ++totals_.posts;
  for (int32_t slot : post.slots) {
    Grow(totals_.mentions, static_cast<size_t>(slot) + 1);
    ++totals_.mentions[slot];
  }
  const int64_t t = std::max<int64_t>(0, post.created_at_ms);  // decode rejects < 0
  const int64_t grace_ms = absl::ToInt64Milliseconds(options_.grace);
  if (max_event_ms_ >= 0 && t < max_event_ms_ - grace_ms) {
    // Outside the windows, but its id is remembered so a redelivery is not
    // counted in the totals twice.
    At(head_).ids.push_back(post.id_hash);
    seen_.insert(post.id_hash);
    ++totals_.late;
    return Outcome::kLate;
  }
  max_event_ms_ = std::max(max_event_ms_, t);
  min_event_ms_ = min_event_ms_ < 0 ? t : std::min(min_event_ms_, t);
  const int64_t index = t / bucket_ms_;
  if (head_ == INT64_MIN) {
    head_ = index;
    Evict(At(index));
    At(index).index = index;
  } else if (index > head_) {
    Advance(index);
  }
  Bucket& b = At(index);
  if (b.index != index) {  // first post of a bucket behind the head
    Evict(b);
    b.index = index;
  }
  b.ids.push_back(post.id_hash);
  seen_.insert(post.id_hash);
  ++b.posts;
  for (int32_t slot : post.slots) {
    Grow(b.mentions, static_cast<size_t>(slot) + 1);
    ++b.mentions[slot];
  }
  for (const std::string& tag : post.hashtags) b.hashtags.Add(tag);
  for (size_t j = 0; j < span_buckets_.size(); ++j) {
    if (index <= head_ - span_buckets_[j]) continue;
    WindowCounts& w = totals_.windows[j];
    ++w.posts;
    for (int32_t slot : post.slots) {
      Grow(w.mentions, static_cast<size_t>(slot) + 1);
      ++w.mentions[slot];
    }
  }
  return Outcome::kCounted;
}

void MentionWindows::Publish() {
  std::vector<int64_t>& w = words_;
  w.clear();
  w.push_back(max_event_ms_);
  w.push_back(min_event_ms_);
  w.push_back(max_event_ms_ < 0 ? -1 : max_event_ms_ - absl::ToInt64Milliseconds(options_.grace));
  w.push_back(totals_.posts);
  w.push_back(totals_.late);
  w.push_back(totals_.duplicates);
  PutCounts(totals_.mentions, &w);
  // Each bucket's hashtag summary once; each window merges its own range.
  std::vector<TopK> summaries(ring_.size());
  for (size_t k = 0; k < ring_.size(); ++k) {
    if (ring_[k].index != INT64_MIN && !ring_[k].hashtags.empty()) {
      summaries[k] = ring_[k].hashtags.Summary();
    }
  }
  w.push_back(static_cast<int64_t>(span_buckets_.size()));
  for (size_t j = 0; j < span_buckets_.size(); ++j) {
    const WindowCounts& win = totals_.windows[j];
    w.push_back(win.span_ms);
    w.push_back(win.posts);
    PutCounts(win.mentions, &w);
    std::vector<const TopK*> parts;
    // Nothing counted yet: head_ is INT64_MIN and the range would overflow.
    const int64_t first = head_ == INT64_MIN ? 0 : head_ - span_buckets_[j] + 1;
    for (int64_t i = first; head_ != INT64_MIN && i <= head_; ++i) {
      if (At(i).index == i && !At(i).hashtags.empty()) {
        parts.push_back(&summaries[static_cast<size_t>(&At(i) - ring_.data())]);
      }
    }
    const TopK top = MergeTopK(parts, options_.hashtag_limit);
    w.push_back(top.total);
    w.push_back(top.floor);
    w.push_back(static_cast<int64_t>(top.items.size()));
    for (const TopKItem& item : top.items) {
      w.push_back(item.upper);
      w.push_back(item.lower);
      PutTag(item.item, &w);
    }
  }
  w.push_back(bucket_ms_);
  const int64_t first = head_ == INT64_MIN ? 0 : head_ - ring_size() + 1;
  w.push_back(first);
  w.push_back(head_ == INT64_MIN ? 0 : ring_size());
  for (int64_t i = first; head_ != INT64_MIN && i <= head_; ++i) {
    static const std::vector<int64_t> kNone;
    PutCounts(At(i).index == i ? At(i).mentions : kNone, &w);
  }
  published_.Publish(w);
}

MentionsView MentionWindows::Read() const {
  std::vector<int64_t> words;
  published_.Read(&words);
  MentionsView v;
  if (words.empty()) {
    for (const WindowCounts& w : totals_.windows) v.windows.push_back({.span_ms = w.span_ms});
    return v;
  }
  const int64_t* p = words.data();
  v.max_event_ms = *p++;
  v.min_event_ms = *p++;
  v.watermark_ms = *p++;
  v.posts = *p++;
  v.late = *p++;
  v.duplicates = *p++;
  v.mentions = GetCounts(p);
  const int64_t windows = *p++;
  for (int64_t j = 0; j < windows; ++j) {
    WindowCounts w;
    w.span_ms = *p++;
    w.posts = *p++;
    w.mentions = GetCounts(p);
    w.hashtags.total = *p++;
    w.hashtags.floor = *p++;
    const int64_t n = *p++;
    for (int64_t k = 0; k < n; ++k) {
      TopKItem item;
      item.upper = *p++;
      item.lower = *p++;
      item.item = GetTag(p);
      w.hashtags.items.push_back(std::move(item));
    }
    v.windows.push_back(std::move(w));
  }
  v.bucket_ms = *p++;
  v.first_bucket = *p++;
  const int64_t buckets = *p++;
  for (int64_t i = 0; i < buckets; ++i) v.bucket_mentions.push_back(GetCounts(p));
  v.slowest_head_bucket = v.first_bucket + buckets - 1;
  return v;
}

MentionsView MergeViews(const std::vector<MentionsView>& views, size_t hashtag_limit) {
  MentionsView out;
  for (const MentionsView& v : views) {
    out.max_event_ms = std::max(out.max_event_ms, v.max_event_ms);
    if (v.min_event_ms >= 0) {
      out.min_event_ms =
          out.min_event_ms < 0 ? v.min_event_ms : std::min(out.min_event_ms, v.min_event_ms);
    }
    out.watermark_ms = std::max(out.watermark_ms, v.watermark_ms);
    out.posts += v.posts;
    out.late += v.late;
    out.duplicates += v.duplicates;
    AddInto(out.mentions, v.mentions);
    if (out.windows.size() < v.windows.size()) out.windows.resize(v.windows.size());
    for (size_t j = 0; j < v.windows.size(); ++j) {
      out.windows[j].span_ms = v.windows[j].span_ms;
      out.windows[j].posts += v.windows[j].posts;
      AddInto(out.windows[j].mentions, v.windows[j].mentions);
    }
  }
  int64_t first = INT64_MIN, end = INT64_MIN, slowest = INT64_MAX;  // [first, end)
  for (const MentionsView& v : views) {
    if (v.bucket_mentions.empty()) continue;
    out.bucket_ms = v.bucket_ms;
    first = std::max(first, v.first_bucket);
    end = std::max(end, v.first_bucket + static_cast<int64_t>(v.bucket_mentions.size()));
    slowest = std::min(slowest, v.slowest_head_bucket);
  }
  out.slowest_head_bucket = slowest == INT64_MAX ? 0 : slowest;
  if (first != INT64_MIN && first < end) {
    out.first_bucket = first;
    out.bucket_mentions.resize(static_cast<size_t>(end - first));
    for (const MentionsView& v : views) {
      for (size_t i = 0; i < v.bucket_mentions.size(); ++i) {
        const int64_t index = v.first_bucket + static_cast<int64_t>(i);
        if (index >= first) AddInto(out.bucket_mentions[index - first], v.bucket_mentions[i]);
      }
    }
  }
  for (size_t j = 0; j < out.windows.size(); ++j) {
    std::vector<const TopK*> parts;
    for (const MentionsView& v : views) {
      if (j < v.windows.size()) parts.push_back(&v.windows[j].hashtags);
    }
    out.windows[j].hashtags = MergeTopK(parts, hashtag_limit);
  }
  return out;
}

}  // namespace tallywire
