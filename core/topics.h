// The topics tallywire uses and how they are laid out.
//
//   kafka::CreateTopics(cfg, DefaultTopics({.partitions = 4}), absl::Seconds(30));
//
// Input, written by producers (any client, any partitioner):
// tallies: keyed "race/precinct". tallywire's producer puts a race on its
//   home partition (FNV-1a of the race id); a tally elsewhere is forwarded
//   to the repartition topic by whoever reads it. Compacted, but nothing
//   rebuilds from it: state is restored from the changelog.
// races: race definitions keyed by race id, compacted, on any partition;
//   every aggregator process reads all of it (a global table).
// posts: keyed by post id, spread over partitions, time-retained (1 day).
// alerts: keyed by race, time-retained (7 days).
// dlq: dead letters with the reason in headers, time-retained (7 days).
// Internal, written only by the aggregator, as many partitions as tallies
// (partition p of each belongs with tallies partition p):
// repartition: tallies that arrived off their race's home partition,
//   forwarded to it (Kafka Streams' groupByKey); time-retained (1 day).
// changelog: what each race's owner accepted (the latest tally of every
//   precinct, the detector's fired state), compacted: a new owner restores
//   from it and resumes the input at the committed offset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
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
  std::string races = "races";
  std::string repartition = "tallywire-repartition";
  std::string changelog = "tallywire-changelog";
};

inline uint32_t Fnv1a32(absl::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}
// A race's home partition of tallies, repartition and changelog.
inline int32_t RacePartition(absl::string_view race_id, int partitions) {
  return static_cast<int32_t>(Fnv1a32(race_id) % static_cast<uint32_t>(partitions));
}

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
      {names.races, layout.partitions, layout.replication_factor,
       with({{"cleanup.policy", "compact"}})},
      {names.repartition, layout.partitions, layout.replication_factor,
       with({{"retention.ms", "86400000"}})},
      {names.changelog, layout.partitions, layout.replication_factor,
       with({{"cleanup.policy", "compact"}})},
  };
}

}  // namespace tallywire
