#include "core/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tallywire {

int LatencyHistogram::BucketOf(int64_t value) {
  if (value < kSubBuckets) return static_cast<int>(std::max<int64_t>(value, 0));
  const uint64_t v = static_cast<uint64_t>(value);
  const int msb = 63 - std::countl_zero(v);  // >= kSubBucketBits
  const int range = msb - kSubBucketBits + 1;
  const int sub = static_cast<int>((v >> (msb - kSubBucketBits)) & (kSubBuckets - 1));
  // The 7 bits after the leading one pick the slot; slots in range r are
  // 2^(r-1) wide and start at >= 128 * 2^(r-1), hence the 1/128 bound.
  return range * kSubBuckets + sub;
}

int64_t LatencyHistogram::UpperEdge(int bucket) {
  const int range = bucket / kSubBuckets;
  const int64_t sub = bucket % kSubBuckets;
  if (range == 0) return sub;
  const int shift = range - 1;
  // Value = (kSubBuckets + sub) << shift .. + (1 << shift) - 1
  return ((kSubBuckets + sub) << shift) + ((int64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(int64_t value) {
  value = std::max<int64_t>(value, 0);
  counts_[BucketOf(value)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  int64_t m = max_.load(std::memory_order_relaxed);
  while (value > m && !max_.compare_exchange_weak(m, value, std::memory_order_relaxed)) {
  }
}

int64_t LatencyHistogram::Percentile(double p) const {
  uint64_t total = 0;
  for (const auto& c : counts_) total += c.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total))));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[b].load(std::memory_order_relaxed);
    if (seen >= rank) return std::min(UpperEdge(b), Max());
  }
  return Max();
}

double LatencyHistogram::Mean() const {
  const uint64_t n = Count();
  return n == 0 ? 0.0 : static_cast<double>(sum_.load(std::memory_order_relaxed)) / n;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int b = 0; b < kBuckets; ++b) {
    counts_[b].fetch_add(other.counts_[b].load(std::memory_order_relaxed),
                         std::memory_order_relaxed);
  }
  count_.fetch_add(other.Count(), std::memory_order_relaxed);
  sum_.fetch_add(other.sum_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  int64_t m = max_.load(std::memory_order_relaxed);
  const int64_t om = other.Max();
  while (om > m && !max_.compare_exchange_weak(m, om, std::memory_order_relaxed)) {
  }
}

void LatencyHistogram::Reset() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
  count_ = 0;
  sum_ = 0;
  max_ = 0;
}

std::string LatencyHistogram::PrometheusText(const std::string& name, const std::string& help,
                                             double unit_to_seconds) const {
  // Fixed, readable bucket bounds; the fine-grained buckets stay internal.
  static constexpr double kBoundsSeconds[] = {1e-6, 1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01,
                                              0.05, 0.1,  0.5,  1,    5,    10};
  std::string out = absl::StrCat("# HELP ", name, " ", help, "\n# TYPE ", name, " histogram\n");
  uint64_t cumulative = 0;
  int b = 0;
  for (double bound : kBoundsSeconds) {
    for (; b < kBuckets && static_cast<double>(UpperEdge(b)) * unit_to_seconds <= bound; ++b) {
      cumulative += counts_[b].load(std::memory_order_relaxed);
    }
    absl::StrAppend(&out, name, "_bucket{le=\"", absl::StrFormat("%g", bound), "\"} ", cumulative,
                    "\n");
  }
  absl::StrAppend(&out, name, "_bucket{le=\"+Inf\"} ", Count(), "\n");
  absl::StrAppend(&out, name, "_sum ",
                  absl::StrFormat("%.9f", static_cast<double>(sum_.load()) * unit_to_seconds),
                  "\n");
  absl::StrAppend(&out, name, "_count ", Count(), "\n");
  return out;
}

}  // namespace tallywire
