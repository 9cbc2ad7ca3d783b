// LatencyHistogram: log-linear buckets (HDR-style), lock-free recording,
// relative error <= 1/128 (< 1 %) on every recorded value.
//
//   LatencyHistogram h;
//   h.Record(took_ns);            // any thread, wait-free
//   int64_t p99 = h.Percentile(99.0);
//
// Design: a value v falls into power-of-two range e = floor(log2 v) and, in
// that range, one of kSubBuckets linear slots. Counts are relaxed atomics:
// a reader may see a count a few records old, never a torn one, which is all
// a percentile needs.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace tallywire {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 7;  // 128 slots per power of two
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kRanges = 64 - kSubBucketBits;
  static constexpr int kBuckets = kRanges * kSubBuckets;

  void Record(int64_t value);
  // Value at percentile p (0..100]; 0 when empty. Reports the bucket's upper
  // edge, so it never understates.
  int64_t Percentile(double p) const;
  int64_t Max() const { return max_.load(std::memory_order_relaxed); }
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Mean() const;
  void Merge(const LatencyHistogram& other);
  void Reset();

  // Prometheus histogram lines (seconds) for a metric name with labels "".
  std::string PrometheusText(const std::string& name, const std::string& help,
                             double unit_to_seconds) const;

  static int BucketOf(int64_t value);
  static int64_t UpperEdge(int bucket);

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> sum_{0};
  std::atomic<int64_t> max_{0};
};

}  // namespace tallywire
