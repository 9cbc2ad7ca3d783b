// The four topics tallywire uses and how they are laid out.
//
//   kafka::CreateTopics(cfg, DefaultTopics({.partitions = 4}), absl::Seconds(30));
//
// tallies: keyed "race/precinct", partitioned by race (every precinct of a
//   race on one partition, so one consumer owns a race and reads it in
//   order), compacted: the latest tally per precinct is always recoverable,
//   which is what a consumer replays to rebuild a race it takes over.
// posts: keyed by post id, spread over partitions, time-retained (1 day).
// alerts: keyed by race, time-retained (7 days).
// dlq: dead letters with the reason in headers, time-retained (7 days).
#pragma once

#include <string>
#include <vector>

#include "core/kafka/client.h"

namespace tallywire {

// Optional header a producer may stamp with the send time in Unix
// microseconds (decimal): benchmarks use it to measure latency from the
// scheduled send, finer than Kafka's millisecond timestamps.
inline constexpr const char* kSentAtHeader = "tallywire.sent_us";

struct TopicNames {
  std::string tallies = "tallies";
  std::string posts = "posts";
  std::string alerts = "alerts";
  std::string dlq = "dlq";
};

struct TopicLayout {
  int partitions = 4;
  int replication_factor = 1;
  int min_insync_replicas = 1;
};

inline std::vector<kafka::TopicSpec> DefaultTopics(const TopicLayout& layout = {},
                                                   const TopicNames& names = {}) {
  std::vector<std::pair<std::string, std::string>> isr = {
      {"min.insync.replicas", std::to_string(layout.min_insync_replicas)}};
  auto with = [&](std::vector<std::pair<std::string, std::string>> extra) {
    extra.insert(extra.end(), isr.begin(), isr.end());
    return extra;
  };
  return {
      {names.tallies, layout.partitions, layout.replication_factor,
       with({{"cleanup.policy", "compact"}, {"min.compaction.lag.ms", "3600000"}})},
      {names.posts, layout.partitions, layout.replication_factor,
       with({{"retention.ms", "86400000"}})},
      {names.alerts, layout.partitions, layout.replication_factor,
       with({{"retention.ms", "604800000"}})},
      {names.dlq, 1, layout.replication_factor, with({{"retention.ms", "604800000"}})},
  };
}

}  // namespace tallywire
