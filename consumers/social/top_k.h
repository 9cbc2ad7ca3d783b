// Top-K heavy hitters (hashtags) in bounded memory: Space-Saving (Metwally,
// Agrawal, El Abbadi 2005) and the merge of its summaries over buckets and
// partitions.
//
//   SpaceSaving s(64);
//   for (const auto& tag : tags) s.Add(tag);
//   TopK top = MergeTopK({s.Summary()}, /*limit=*/10);
//
// Error bound. A summary of capacity k over N items keeps every item whose
// true count exceeds its floor (the smallest counter once full, else 0;
// floor <= N/k), and reports each kept item with lower <= true <= upper.
// Merging summaries of disjoint parts of the stream adds them: an item
// missing from a part is charged that part's floor in `upper` and 0 in
// `lower`, and the floors add. Cutting the merged list to `limit` raises the
// floor to the largest upper dropped. So for every TopK here:
//   every item whose true count exceeds `floor` is listed, and
//   floor <= N/k summed over the merged parts (or the cut, if larger).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace tallywire {

struct TopKItem {
  std::string item;
  int64_t upper = 0, lower = 0;  // lower <= true count <= upper
  bool operator==(const TopKItem&) const = default;
};

struct TopK {
  std::vector<TopKItem> items;  // by upper, descending
  int64_t floor = 0;            // an unlisted item's true count is <= floor
  int64_t total = 0;            // items counted
};

class SpaceSaving {
 public:
  explicit SpaceSaving(int capacity) : capacity_(capacity) {}

  void Add(absl::string_view item, int64_t count = 1) {
    total_ += count;
    if (auto it = index_.find(item); it != index_.end()) {
      counters_[it->second].count += count;
      return;
    }
    if (static_cast<int>(counters_.size()) < capacity_) {
      index_.emplace(std::string(item), counters_.size());
      counters_.push_back({std::string(item), count, 0});
      return;
    }
    // Replace the smallest counter; its count becomes the newcomer's error.
    size_t min = 0;
    for (size_t i = 1; i < counters_.size(); ++i) {
      if (counters_[i].count < counters_[min].count) min = i;
    }
    Counter& c = counters_[min];
    index_.erase(c.item);
    c.error = c.count;
    c.count += count;
    c.item = std::string(item);
    index_.emplace(c.item, min);
  }

  void Clear() {
    counters_.clear();
    index_.clear();
    total_ = 0;
  }
  bool empty() const { return total_ == 0; }

  TopK Summary() const {
    TopK s;
    s.total = total_;
    for (const Counter& c : counters_) s.items.push_back({c.item, c.count, c.count - c.error});
    if (static_cast<int>(counters_.size()) == capacity_) {
      for (const Counter& c : counters_) {
        s.floor = s.floor == 0 ? c.count : std::min(s.floor, c.count);
      }
    }
    std::sort(s.items.begin(), s.items.end(),
              [](const TopKItem& a, const TopKItem& b) { return a.upper > b.upper; });
    return s;
  }

 private:
  struct Counter {
    std::string item;
    int64_t count = 0, error = 0;
  };
  int capacity_;
  int64_t total_ = 0;
  std::vector<Counter> counters_;
  absl::flat_hash_map<std::string, size_t> index_;
};

// Merges summaries of disjoint parts of a stream and keeps the `limit`
// highest (0: all). See the error bound above.
inline TopK MergeTopK(const std::vector<const TopK*>& parts, size_t limit) {
  struct Acc {
    int64_t upper = 0, lower = 0, floors_missing = 0;
  };
  absl::flat_hash_map<std::string, Acc> acc;
  TopK out;
  for (const TopK* p : parts) {
    out.floor += p->floor;
    out.total += p->total;
    for (const TopKItem& i : p->items) {
      Acc& a = acc[i.item];
      a.upper += i.upper;
      a.lower += i.lower;
      a.floors_missing -= p->floor;  // this part listed it
    }
  }
  for (auto& [item, a] : acc) {
    out.items.push_back({item, a.upper + out.floor + a.floors_missing, a.lower});
  }
  std::sort(out.items.begin(), out.items.end(), [](const TopKItem& a, const TopKItem& b) {
    return a.upper != b.upper ? a.upper > b.upper : a.item < b.item;
  });
  if (limit > 0 && out.items.size() > limit) {
    out.floor = std::max(out.floor, out.items[limit].upper);
    out.items.resize(limit);
  }
  return out;
}

}  // namespace tallywire
