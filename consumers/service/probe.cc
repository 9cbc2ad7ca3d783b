#include "consumers/service/probe.h"

#include "absl/strings/str_cat.h"
#include "core/codec.h"

namespace tallywire {

void ServiceProbe::on_dead_letter(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++dead_letters_[reason];
}

void ServiceProbe::set_lag(const std::string& topic, int32_t partition, int64_t lag) {
  std::lock_guard<std::mutex> lock(mu_);
  lag_[{topic, partition}] = lag;
}

void ServiceProbe::clear_lag(const std::string& topic, int32_t partition) {
  std::lock_guard<std::mutex> lock(mu_);
  lag_.erase({topic, partition});
}

uint64_t ServiceProbe::alerts_total() const {
  uint64_t n = 0;
  for (const PaddedCounter& c : alerts_) n += c.Get();
  return n;
}

uint64_t ServiceProbe::dead_lettered() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  for (const auto& [r, c] : dead_letters_) n += c;
  return n;
}

uint64_t ServiceProbe::dead_lettered(const std::string& reason) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = dead_letters_.find(reason);
  return it == dead_letters_.end() ? 0 : it->second;
}

int64_t ServiceProbe::total_lag() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& [k, v] : lag_) n += std::max<int64_t>(0, v);
  return n;
}

std::string ServiceProbe::PrometheusText() const {
  static constexpr const char* kTopics[] = {"tallies", "posts", "repartition"};
  std::string out;
  auto counter = [&](const char* name, const char* help) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " counter\n");
  };
  auto by_topic = [&](const char* name, const char* help, const auto& counters) {
    counter(name, help);
    for (size_t t = 0; t < counters.size(); ++t)
      absl::StrAppend(&out, name, "{topic=\"", kTopics[t], "\"} ", counters[t].Get(), "\n");
  };
  by_topic("tallywire_events_consumed_total", "Messages consumed, by topic.", consumed_);
  by_topic("tallywire_events_applied_total", "Events applied to the aggregates, by topic.",
           applied_);
  counter("tallywire_tallies_stale_total",
          "Tallies ignored: an equal or newer version was applied.");
  absl::StrAppend(&out, "tallywire_tallies_stale_total ", stale_.Get(), "\n");
  by_topic("tallywire_events_restored_total",
           "Events replayed to rebuild state after an assignment, by topic.", restored_);
  counter("tallywire_alerts_total", "Alerts published, by kind.");
  for (int k = 0; k < kAlertKinds; ++k)
    absl::StrAppend(&out, "tallywire_alerts_total{kind=\"",
                    AlertKindName(static_cast<wire::AlertKind>(k)), "\"} ", alerts_[k].Get(), "\n");
  counter("tallywire_alerts_failed_total", "Alerts whose delivery failed.");
  absl::StrAppend(&out, "tallywire_alerts_failed_total ", alerts_failed_.Get(), "\n");
  counter("tallywire_tallies_forwarded_total",
          "Tallies read off their race's home partition and forwarded to the repartition topic.");
  absl::StrAppend(&out, "tallywire_tallies_forwarded_total ", forwarded_.Get(), "\n");
  counter("tallywire_changelog_records_total", "State records written to the changelog.");
  absl::StrAppend(&out, "tallywire_changelog_records_total ", changelog_.Get(), "\n");
  counter("tallywire_changelog_restored_total", "Changelog records read back on assignment.");
  absl::StrAppend(&out, "tallywire_changelog_restored_total ", changelog_restored_.Get(), "\n");
  counter("tallywire_transactions_total", "Kafka transactions ended, by outcome.");
  absl::StrAppend(&out, "tallywire_transactions_total{outcome=\"committed\"} ", txn_commits_.Get(),
                  "\n", "tallywire_transactions_total{outcome=\"aborted\"} ", txn_aborts_.Get(),
                  "\n");
  counter("tallywire_dead_letters_undeliverable_total",
          "Dead letters the dlq topic refused; logged with their source, not retried.");
  absl::StrAppend(&out, "tallywire_dead_letters_undeliverable_total ",
                  dead_letters_undeliverable_.Get(), "\n");
  counter("tallywire_rebalances_total", "Consumer group rebalances seen.");
  absl::StrAppend(&out, "tallywire_rebalances_total ", rebalances_.Get(), "\n");
  counter("tallywire_consume_errors_total", "Errors reported by the consumer.");
  absl::StrAppend(&out, "tallywire_consume_errors_total ", consume_errors_.Get(), "\n");
  {
    std::lock_guard<std::mutex> lock(mu_);
    counter("tallywire_dead_lettered_total",
            "Events set aside on the dead-letter topic, by reason.");
    for (const auto& [reason, n] : dead_letters_)
      absl::StrAppend(&out, "tallywire_dead_lettered_total{reason=\"", reason, "\"} ", n, "\n");
    absl::StrAppend(&out, "# HELP tallywire_consumer_lag Messages behind the high watermark.\n",
                    "# TYPE tallywire_consumer_lag gauge\n");
    for (const auto& [tp, lag] : lag_)
      absl::StrAppend(&out, "tallywire_consumer_lag{topic=\"", tp.first, "\",partition=\"",
                      tp.second, "\"} ", lag, "\n");
  }
  out += apply_latency_ns_.PrometheusText("tallywire_apply_latency_seconds",
                                          "Decode+apply+detect time per event.", 1e-9);
  out += produce_to_applied_us_.PrometheusText(
      "tallywire_produce_to_applied_seconds",
      "From a message's produce timestamp to its effects being applied.", 1e-6);
  out += produce_to_alert_us_.PrometheusText(
      "tallywire_produce_to_alert_seconds",
      "From the triggering message's produce timestamp to the alert's delivery.", 1e-6);
  return out;
}

}  // namespace tallywire
