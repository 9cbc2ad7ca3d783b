// Wall and monotonic clocks in the units the wire uses (Unix milliseconds)
// and the latency histograms use (nanoseconds).
//
//   int64_t sent = tallywire::NowUnixMs();
//   int64_t t0 = tallywire::MonotonicNs(); ...; int64_t took = MonotonicNs() - t0;
#pragma once

#include <chrono>
#include <cstdint>

namespace tallywire {

inline int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t NowUnixUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Per-thread counters and shard heads are padded to this so two writers never
// share a cache line (clang 14 lacks hardware_destructive_interference_size).
inline constexpr std::size_t kCacheLineBytes = 64;

}  // namespace tallywire
