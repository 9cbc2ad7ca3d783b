#include "consumers/alerts/follow.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/json_writer.h"
#include "core/kafka/client.h"
#include "core/log.h"
#include "core/status_macros.h"

namespace tallywire {

absl::StatusOr<FollowSummary> FollowAlerts(const kafka::KafkaConfig& base,
                                           const FollowOptions& options,
                                           absl::FunctionRef<void(const AlertEvent&)> on_alert) {
  kafka::KafkaConfig cfg = base;
  cfg.Set("group.id", absl::StrCat("tallywire-alerts-", getpid(), "-", NowUnixUs()));
  cfg.SetDefault("client.id", "tallywire-alerts");
  // Alerts are written in transactions: an aborted one (a worker that died
  // mid-batch) is never shown, so each alert id is seen once.
  cfg.SetDefault("isolation.level", "read_committed");
  if (!options.follow) cfg.Set("enable.partition.eof", "true");
  TW_ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Create(cfg));
  TW_ASSIGN_OR_RETURN(const int partitions,
                      consumer->PartitionCount(options.topic, absl::Seconds(30)));
  TW_RETURN_IF_ERROR(
      consumer->Assign(options.topic, partitions,
                       options.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END));
  FollowSummary summary;
  AlignedBytes aligned;
  std::vector<bool> at_end(partitions, false);
  int ends = 0;
  while (options.stop == nullptr || !options.stop->load(std::memory_order_relaxed)) {
    kafka::MessagePtr m = consumer->Poll(absl::Milliseconds(100));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (m->partition >= 0 && m->partition < partitions && !at_end[m->partition]) {
        at_end[m->partition] = true;
        if (++ends == partitions) break;
      }
      continue;
    }
    if (m->err) {
      Log(LogLevel::kWarn, "alerts_consume_error", {{"error", rd_kafka_message_errstr(m.get())}});
      continue;
    }
    absl::StatusOr<const wire::Alert*> a = DecodeAlert(aligned.Align(kafka::AsBytesOf(*m)));
    if (!a.ok()) {
      ++summary.undecodable;
      Log(LogLevel::kWarn, "alert_undecodable",
          {{"source", absl::StrCat(options.topic, "/", m->partition, "/", m->offset)},
           {"error", std::string(a.status().message())}});
      continue;
    }
    ++summary.alerts;
    on_alert(ToValue(**a));
  }
  (void)consumer->Close();
  return summary;
}

std::string FormatAlertLine(const AlertEvent& a) {
  return absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(a.event_time_ms),
                                       absl::UTCTimeZone()),
                      "  ", a.race_id, "  ", AlertKindName(a.kind), "  ", a.message);
}

std::string AlertJson(const AlertEvent& a) {
  JsonWriter w;
  w.BeginObject().Key("id").String(a.id).Key("kind").String(AlertKindName(a.kind));
  w.Key("race_id").String(a.race_id).Key("candidate_id").String(a.candidate_id);
  w.Key("candidate_name").String(a.candidate_name);
  w.Key("threshold_bp").Int(a.threshold_bp).Key("share_bp").Int(a.share_bp);
  w.Key("votes").Int(a.votes).Key("total_votes").Int(a.total_votes);
  w.Key("precincts_reporting").Int(a.precincts_reporting);
  w.Key("precincts_total").Int(a.precincts_total).Key("event_time_ms").Int(a.event_time_ms);
  w.Key("produce_time_ms").Int(a.produce_time_ms).Key("detect_time_ms").Int(a.detect_time_ms);
  w.Key("source").String(
      absl::StrCat(a.source_topic, "/", a.source_partition, "/", a.source_offset));
  w.Key("previous_candidate_id").String(a.previous_candidate_id);
  w.Key("message").String(a.message).EndObject();
  return std::move(w).Finish();
}

}  // namespace tallywire
