#include "core/histogram.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tallywire {
namespace {

TEST(LatencyHistogram, PercentilesWithinOnePercentOfExact) {
  LatencyHistogram h;
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(12, 2);
  std::vector<int64_t> values;
  for (int i = 0; i < 200000; ++i) {
    int64_t v = static_cast<int64_t>(dist(rng));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const int64_t exact = values[static_cast<size_t>(std::ceil(p / 100 * values.size())) - 1];
    const int64_t got = h.Percentile(p);
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(got, exact + exact / 100 + 1) << p;
  }
  EXPECT_EQ(h.Max(), values.back());
  EXPECT_EQ(h.Count(), values.size());
}

TEST(LatencyHistogram, BucketEdgesAreMonotonic) {
  for (int64_t v : {0LL, 1LL, 127LL, 128LL, 129LL, 1000LL, 123456789LL, (1LL << 62)}) {
    const int b = LatencyHistogram::BucketOf(v);
    EXPECT_GE(LatencyHistogram::UpperEdge(b), v);
    if (b > 0) {
      EXPECT_LT(LatencyHistogram::UpperEdge(b - 1), v);
    }
  }
}

}  // namespace
}  // namespace tallywire
