// Worker: one consumer-group member and the single writer of the races on
// its partitions. Internal to AggregatorService (see service.h for the
// ownership and commit design).
//
//   Worker w(options, 0, &directory, &probe);
//   TW_RETURN_IF_ERROR(w.Init());
//   std::thread t([&] { w.Run(&stop, &all_committed); });
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <latch>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "consumers/alerts/detect.h"
#include "consumers/service/probe.h"
#include "consumers/service/race_directory.h"
#include "consumers/service/service.h"
#include "consumers/service/social.h"
#include "core/kafka/client.h"

namespace tallywire {

class Worker {
 public:
  Worker(const ServiceOptions& options, int index, RaceDirectory* directory, ServiceProbe* probe,
         MentionBoard* board, const CatalogFeed* catalogs);
  ~Worker();
  absl::Status Init();
  // Polls until *stop, then shuts down in order: deliver, commit, wait on
  // `all_committed` until every worker of the process has committed (one
  // leaving the group first would make the others' commits fail with
  // REBALANCE_IN_PROGRESS), then leave. Returns the shutdown status.
  absl::Status Run(const std::atomic<bool>* stop, std::latch* all_committed);

  bool joined() const { return joined_.load(std::memory_order_acquire); }
  bool caught_up() const { return caught_up_.load(std::memory_order_acquire); }
  // Joined and past the silent replay of every owned partition (it may lag).
  bool live() const { return live_.load(std::memory_order_acquire); }
  int assigned_partitions() const { return assigned_.load(std::memory_order_acquire); }

 private:
  struct OwnedRace {
    std::shared_ptr<RaceState> state;
    std::unique_ptr<RaceDetector> detector;
    int32_t partition;
  };
  struct Pending {
    int64_t offset;
    int remaining;
    int64_t origin_us;  // produce time of the triggering event; -1 for dead letters
  };
  struct PartitionProgress {
    int64_t restore_until = 0;  // offsets below were handled before: replay silently
    int64_t next = -1;          // next offset to handle (-1: none yet)
    int64_t committed = -1;
    int64_t stuck_at = -1;        // an alert here failed: never commit past it
    std::deque<Pending> pending;  // offsets with undelivered alerts/dead letters
  };

  void Handle(const rd_kafka_message_t& m);
  // Ends a batch of handled messages: publishes the races it changed, then
  // counts its messages consumed, so a reader who has seen the count sees
  // the totals too.
  void EndBatch();
  absl::Status OnTally(const rd_kafka_message_t& m, absl::Span<const uint8_t> bytes,
                       bool restoring);
  absl::Status OnRaceDefinition(const rd_kafka_message_t& m, absl::Span<const uint8_t> bytes);
  absl::Status OnPost(const rd_kafka_message_t& m, absl::Span<const uint8_t> bytes);
  // progress_ keys: the partition for tallies, with kPostsKey set for posts.
  int32_t KeyOf(absl::string_view topic, int32_t partition) const;
  const std::string& TopicOf(int32_t key) const;
  void PublishWindows();
  absl::Status Publish(const std::vector<AlertEvent>& alerts, const rd_kafka_message_t& m);
  void DeadLetter(const rd_kafka_message_t& m, const absl::Status& why);
  void OnDelivery(const kafka::Delivery& d);
  void TrackPending(int32_t key, int64_t offset, int64_t origin_us);
  absl::Status CommitProgress(bool sync, const rd_kafka_topic_partition_list_t* only = nullptr);
  void OnAssign(rd_kafka_topic_partition_list_t* partitions);
  void OnRevoke(const rd_kafka_topic_partition_list_t* partitions);
  void RefreshLag();
  void CountAssigned();

  const ServiceOptions& options_;
  const int index_;
  RaceDirectory* directory_;
  ServiceProbe* probe_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> consumer_;
  absl::flat_hash_map<std::string, OwnedRace> races_;
  absl::flat_hash_map<int32_t, PartitionProgress> progress_;  // by KeyOf
  MentionBoard* board_;
  const CatalogFeed* catalogs_;
  absl::flat_hash_map<int32_t, std::shared_ptr<MentionWindows>> windows_;  // posts partitions
  std::vector<int32_t> slots_;                                             // scratch, per post
  std::vector<std::string> hashtags_;                                      // scratch, per post
  std::string folded_;                                                     // scratch, per post
  int64_t last_publish_ns_ = 0;
  std::vector<std::shared_ptr<RaceState>> unpublished_races_;    // changed in this batch
  std::array<uint64_t, 2> batch_consumed_{}, batch_restored_{};  // by SourceTopic
  std::vector<AlertEvent> alerts_;                               // scratch, reused per event
  AlignedBytes aligned_;   // Kafka payloads may sit at any address
  int64_t origin_us_ = 0;  // produce time of the message being handled
  bool shutting_down_ = false;
  std::atomic<bool> joined_{false};
  std::atomic<bool> caught_up_{false};
  std::atomic<bool> live_{false};
  std::atomic<int> assigned_{0};  // tallies partitions this worker owns now
};

}  // namespace tallywire
