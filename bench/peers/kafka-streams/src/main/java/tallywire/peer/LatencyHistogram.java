package tallywire.peer;

/**
 * The bucket layout of core/histogram.h (log-linear, 128 slots per power of
 * two), so the C++ bench can merge what the peer recorded without a second
 * rounding: it re-records each bucket's upper edge, which falls in the same
 * bucket. One stream thread writes a task's histogram; no locking.
 */
final class LatencyHistogram {
  static final int SUB_BUCKET_BITS = 7;
  static final int SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
  static final int BUCKETS = (64 - SUB_BUCKET_BITS) * SUB_BUCKETS;

  private final long[] counts = new long[BUCKETS];

  static int bucketOf(long value) {
    if (value < SUB_BUCKETS) return (int) Math.max(value, 0);
    final int msb = 63 - Long.numberOfLeadingZeros(value);
    final int range = msb - SUB_BUCKET_BITS + 1;
    final int sub = (int) ((value >>> (msb - SUB_BUCKET_BITS)) & (SUB_BUCKETS - 1));
    return range * SUB_BUCKETS + sub;
  }

  static long upperEdge(int bucket) {
    final int range = bucket / SUB_BUCKETS;
    final long sub = bucket % SUB_BUCKETS;
    if (range == 0) return sub;
    final int shift = range - 1;
    return ((SUB_BUCKETS + sub) << shift) + ((1L << shift) - 1);
  }

  void record(long value) {
    counts[bucketOf(value)]++;
  }

  /** "edge:count edge:count ..." over the non-empty buckets. */
  void appendTo(StringBuilder out) {
    for (int b = 0; b < BUCKETS; ++b) {
      if (counts[b] != 0) out.append(' ').append(upperEdge(b)).append(':').append(counts[b]);
    }
  }
}
