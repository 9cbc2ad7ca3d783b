// Publish: a Feed onto the tallies topic, with delivery reports, progress
// and a summary.
//
//   PublishOptions opts{.shuffle = true, .seed = 3, .repeat = 2};
//   TW_ASSIGN_OR_RETURN(PublishSummary s, PublishFeed(feed, kafka_cfg, opts));
//
// Partitioning: definitions go to the races topic keyed "race_id" (any
// partition: every aggregator reads all of it), delivered before the first
// tally is sent. Tallies go to their race's home partition, FNV-1a(race_id)
// mod partition count, so each precinct's versions arrive in order and none
// needs forwarding (any other placement is still applied exactly, through
// the aggregator's repartition topic). Tallies are keyed
// "race_id/precinct_id". A feed of one county defines only that county's
// precincts: the aggregator merges definitions, it never resets a race.
// The producer is idempotent with acks=all (no duplicates or reordering from
// retries); a failed delivery is counted and makes the run fail.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "core/kafka/client.h"
#include "core/kafka/config.h"
#include "core/topics.h"
#include "producers/tally/feed.h"

namespace tallywire {

struct PublishOptions {
  TopicNames topics;
  bool shuffle = false;
  uint64_t seed = 1;
  int repeat = 1;        // send every tally this many times
  double rate = 0;       // events per second; 0: as fast as the broker takes them
  double speedup = 0;    // replay event time compressed by this factor; 0: off
  bool progress = true;  // a progress line on stderr when it is a terminal
  // Called after each tally is handed to the producer (the demo uses it).
  std::function<void(const TallyEvent&)> on_sent;
};

struct PublishSummary {
  uint64_t definitions = 0;  // race definitions, to the races topic, delivered first
  uint64_t sent = 0;         // events (tallies or posts) handed to the producer
  uint64_t delivered = 0;
  uint64_t failed = 0;
  double seconds = 0;
  double per_second() const { return seconds > 0 ? delivered / seconds : 0; }
};

absl::StatusOr<PublishSummary> PublishFeed(const Feed& feed, const kafka::KafkaConfig& cfg,
                                           const PublishOptions& options,
                                           const std::atomic<bool>* stop = nullptr);

// The publishers' shared ends: a progress line on stderr, and flush plus
// summary (an error when any delivery failed).
void PrintPublishProgress(const PublishSummary& summary, const kafka::Producer& producer,
                          int64_t start_ns, bool final);
absl::StatusOr<PublishSummary> FinishPublish(PublishSummary summary, kafka::Producer& producer,
                                             int64_t start_ns, bool tty);

}  // namespace tallywire
