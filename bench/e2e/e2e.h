// End-to-end benchmark: producer -> broker -> tallywire aggregator (alerts
// on), against the raw pipe (same producer, a consumer that only counts),
// in one run, so the ratio is measured rather than guessed.
//
//   TW_ASSIGN_OR_RETURN(auto results, RunEndToEnd({.events = 200000}));
//   std::puts(FormatReport(results).c_str());
//
// Open loop when --rate is set: each event has a scheduled send time and
// latency is counted from it, so a stall in the pipeline shows up as
// latency instead of silently slowing the sender. Flat out otherwise.
//
// With `peer = "kafka-streams"` the same input also goes through the Kafka
// Streams application in bench/peers/kafka-streams (a JVM the bench starts
// and stops), whose answer is checked against the generator and tallywire.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "consumers/service/service.h"
#include "core/kafka/config.h"
#include "producers/tally/synthetic_night.h"

namespace tallywire {

// Timed events in proportion tallies : posts, interleaved evenly.
struct EventMix {
  int tallies = 1;
  int posts = 0;
};

struct EndToEndOptions {
  kafka::KafkaConfig kafka;  // bootstrap.servers empty: embedded broker
  int partitions = 4;
  int threads = 2;                                   // consumer threads (group members), both modes
  Processing processing = Processing::kExactlyOnce;  // tallywire's guarantee
  int64_t events = 200'000;  // timed events per mode, tallies and posts together
  EventMix mix;
  double rate = 0;  // offered events/s; 0: flat out
  ScaleOptions shape = {.races = 8, .precincts = 2500, .candidates = 5, .versions = 10};
  bool run_raw = true;
  bool run_tallywire = true;
  // "kafka-streams": also run the Kafka Streams peer on the same input
  // (bench/peers/kafka-streams; needs a real broker). Empty: no peer.
  std::string peer;
  std::string peer_command;  // the peer's run script; empty: the source tree's
  bool progress = false;     // a line on stderr every 5 s while sending
};

struct Percentiles {
  int64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // microseconds
};

struct EndToEndResult {
  std::string mode;  // "raw" | "tallywire" | "kafka-streams"
  int64_t events = 0;
  double seconds = 0;
  double events_per_second = 0;
  Percentiles produce_to_applied;
  Percentiles produce_to_alert;  // tallywire only
  int64_t alerts = 0;
  int64_t crossings = -1;              // 50 % share alerts, up and down; -1: not counted (raw)
  double cpu_seconds_per_million = 0;  // whole process: producer, consumers, embedded broker
  double peak_rss_mb = 0;
  bool verified = false;  // final totals equal the generator's
  std::string checked;    // what `verified` covers, for the report
};

absl::StatusOr<std::vector<EndToEndResult>> RunEndToEnd(const EndToEndOptions& options);
std::string FormatReport(const EndToEndOptions& options,
                         const std::vector<EndToEndResult>& results);
std::string ReportJson(const EndToEndOptions& options, const std::vector<EndToEndResult>& results);

}  // namespace tallywire
