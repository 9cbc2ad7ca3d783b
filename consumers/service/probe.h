// ServiceProbe: the aggregator's metrics. Business logic calls on_*(); only
// PrometheusText() knows the exposition format (Redpanda's probe pattern).
//
//   probe.on_consumed(kTallies); probe.on_applied(took_ns);
//   std::string text = probe.PrometheusText();
//
// Counters are relaxed atomics, padded per hot counter: a worker bumps them
// without a lock, a scrape reads them without stopping anyone.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "core/histogram.h"

namespace tallywire {

enum class SourceTopic { kTallies = 0, kPosts = 1, kRepartition = 2, kCount = 3 };

// Release and acquire (free on x86, where every fetch_add is a full
// barrier): a reader who sees a count also sees what the worker did before
// counting it, such as a published race or the replays of consumed_new.
struct alignas(kCacheLineBytes) PaddedCounter {
  std::atomic<uint64_t> value{0};
  void Add(uint64_t n = 1) { value.fetch_add(n, std::memory_order_release); }
  uint64_t Get() const { return value.load(std::memory_order_acquire); }
};

class ServiceProbe {
 public:
  static constexpr int kAlertKinds = 7;

  void on_consumed(SourceTopic t, uint64_t n = 1) { consumed_[static_cast<int>(t)].Add(n); }
  void on_applied(SourceTopic t, int64_t apply_ns) {
    applied_[static_cast<int>(t)].Add();
    apply_latency_ns_.Record(apply_ns);
  }
  void on_stale() { stale_.Add(); }
  void on_restored(SourceTopic t, uint64_t n = 1) { restored_[static_cast<int>(t)].Add(n); }
  void on_alert(int kind) { alerts_[kind].Add(); }
  void on_alert_delivered(int64_t produce_to_alert_us) {
    produce_to_alert_us_.Record(produce_to_alert_us);
  }
  void on_end_to_end(int64_t produce_to_applied_us) {
    produce_to_applied_us_.Record(produce_to_applied_us);
  }
  void on_alert_failed() { alerts_failed_.Add(); }
  void on_dead_letter(const std::string& reason);
  void on_rebalance() { rebalances_.Add(); }
  void on_forwarded() { forwarded_.Add(); }
  void on_changelog(uint64_t n = 1) { changelog_.Add(n); }
  void on_restored_records(uint64_t n) { changelog_restored_.Add(n); }
  void on_transaction(bool committed) { (committed ? txn_commits_ : txn_aborts_).Add(); }
  void on_dead_letter_undeliverable() { dead_letters_undeliverable_.Add(); }
  void on_consume_error() { consume_errors_.Add(); }
  // Lag per partition, refreshed by each worker about once a second.
  void set_lag(const std::string& topic, int32_t partition, int64_t lag);
  void clear_lag(const std::string& topic, int32_t partition);

  uint64_t consumed(SourceTopic t) const { return consumed_[static_cast<int>(t)].Get(); }
  uint64_t applied(SourceTopic t) const { return applied_[static_cast<int>(t)].Get(); }
  uint64_t stale() const { return stale_.Get(); }
  uint64_t forwarded() const { return forwarded_.Get(); }
  uint64_t changelog_written() const { return changelog_.Get(); }
  uint64_t changelog_restored() const { return changelog_restored_.Get(); }
  uint64_t transactions_committed() const { return txn_commits_.Get(); }
  uint64_t transactions_aborted() const { return txn_aborts_.Get(); }
  uint64_t alerts_failed() const { return alerts_failed_.Get(); }
  uint64_t dead_letters_undeliverable() const { return dead_letters_undeliverable_.Get(); }
  uint64_t restored(SourceTopic t) const { return restored_[static_cast<int>(t)].Get(); }
  // Consumed minus replays. Every offset counts here at least once, so
  // waiting for n of these waits for n messages even when a rebalance moved
  // a partition and its new owner replayed it. A worker counts a batch's
  // replays before counting the batch consumed, so reading consumed first
  // never counts a replay as new; a replay counted between the two reads
  // makes the difference smaller (never below zero), not larger.
  uint64_t consumed_new(SourceTopic t) const {
    const uint64_t all = consumed(t);
    const uint64_t replays = restored(t);
    return all > replays ? all - replays : 0;
  }
  uint64_t alerts(int kind) const { return alerts_[kind].Get(); }
  uint64_t alerts_total() const;
  uint64_t dead_lettered() const;
  uint64_t dead_lettered(const std::string& reason) const;
  int64_t total_lag() const;
  const LatencyHistogram& produce_to_alert_us() const { return produce_to_alert_us_; }
  const LatencyHistogram& produce_to_applied_us() const { return produce_to_applied_us_; }
  const LatencyHistogram& apply_latency_ns() const { return apply_latency_ns_; }

  std::string PrometheusText() const;

 private:
  std::array<PaddedCounter, static_cast<int>(SourceTopic::kCount)> consumed_;
  std::array<PaddedCounter, static_cast<int>(SourceTopic::kCount)> applied_;
  std::array<PaddedCounter, static_cast<int>(SourceTopic::kCount)> restored_;
  PaddedCounter stale_, alerts_failed_, rebalances_, consume_errors_;
  PaddedCounter forwarded_, changelog_, changelog_restored_, txn_commits_, txn_aborts_;
  PaddedCounter dead_letters_undeliverable_;
  std::array<PaddedCounter, kAlertKinds> alerts_;
  LatencyHistogram apply_latency_ns_;
  LatencyHistogram produce_to_alert_us_;
  LatencyHistogram produce_to_applied_us_;
  // Rare events (dead letters, lag updates) take this lock; the apply path
  // never does.
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> dead_letters_;
  std::map<std::pair<std::string, int32_t>, int64_t> lag_;
};

}  // namespace tallywire
