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
#include "consumers/state/definitions.h"
#include "core/kafka/client.h"

namespace tallywire {

class Worker {
 public:
  Worker(const ServiceOptions& options, int index, RaceDirectory* directory, ServiceProbe* probe,
         MentionBoard* board, const CatalogFeed* catalogs, DefinitionTable* definitions);
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
  // The last commit (or transaction) failed and has not succeeded since.
  bool commit_failing() const { return commit_failing_.load(std::memory_order_acquire); }

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
    int64_t restore_until = 0;  // posts: offsets below were handled before: replay silently
    int64_t next = -1;          // next offset to handle (-1: none yet)
    int64_t committed = -1;
    std::deque<Pending> pending;  // at-least-once: offsets with undelivered output
  };

  void Handle(const rd_kafka_message_t& m);
  // Ends a batch of handled messages: publishes the races it changed, then
  // counts its messages consumed, so a reader who has seen the count sees
  // the totals too.
  void EndBatch();
  absl::Status OnTally(const rd_kafka_message_t& m, absl::Span<const uint8_t> bytes);
  // A tally off its race's home partition goes to the home partition of the
  // repartition topic, unchanged.
  absl::Status Forward(const rd_kafka_message_t& m, int32_t home);
  absl::Status OnRaceDefinition(const rd_kafka_message_t& m, absl::Span<const uint8_t> bytes);
  // The owned race, created from its merged definition when first seen.
  // Null when the race has no definition after the wait (definition_wait).
  OwnedRace* FindOrDefine(absl::string_view race_id, int32_t partition, int64_t arrived_ms);
  // The definition table changed (or force): owned races take their merged
  // models, and races defined on owned partitions appear.
  void AdoptDefinitions(bool force);
  // Changelog partition p -> the races of tallies partition p.
  absl::Status Restore(int32_t partition);
  absl::Status WriteChangelog(int32_t partition, std::string key, absl::string_view value);
  void DropRaces(int32_t partition);
  // Exactly-once: a transaction is open whenever a message is handled.
  absl::Status BeginTransaction();
  // Sends the handled offsets and commits; on failure aborts and rewinds.
  absl::Status CommitTransaction();
  // After an abort: state back to the changelog, input back to the commits.
  void Rewind();
  absl::Status ReadCommitted(rd_kafka_topic_partition_list_t* list);
  absl::Status OnPost(const rd_kafka_message_t& m, absl::Span<const uint8_t> bytes);
  // progress_ keys: the partition for tallies, with kPostsKey set for posts.
  int32_t KeyOf(absl::string_view topic, int32_t partition) const;
  const std::string& TopicOf(int32_t key) const;
  void PublishWindows();
  void Publish(const std::vector<AlertEvent>& alerts);
  void DeadLetter(const rd_kafka_message_t& m, const absl::Status& why);
  void OnDelivery(const kafka::Delivery& d);
  // What a handled message produces. Every output of the message being
  // handled goes through ProduceOutput: its delivery token, what a failure
  // means (kState and kAlert fail the open transaction; kDeadLetter never
  // holds the input back) and, at-least-once, the pending delivery its
  // offset's commit waits for.
  enum class Output { kState, kAlert, kDeadLetter };
  absl::Status ProduceOutput(kafka::OutgoingMessage msg, Output kind);
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
  std::unique_ptr<kafka::Consumer> restorer_;  // assigned to one changelog partition at a time
  uint64_t definitions_seen_ = 0;              // the table's generation the owned races have
  int tallies_partitions_ = 0;
  bool exactly_once_ = false;
  bool in_transaction_ = false;
  bool produce_failed_ = false;  // exactly-once: abort the open transaction
  // Exactly-once: produce times of the open transaction's alerts; a reader
  // sees them at its commit, which is when produce->alert is measured.
  std::vector<int64_t> txn_alert_origins_us_;
  const std::atomic<bool>* stop_ = nullptr;
  absl::flat_hash_map<std::string, OwnedRace> races_;
  absl::flat_hash_map<int32_t, PartitionProgress> progress_;  // by KeyOf
  MentionBoard* board_;
  const CatalogFeed* catalogs_;
  DefinitionTable* definitions_;
  absl::flat_hash_map<int32_t, std::shared_ptr<MentionWindows>> windows_;  // posts partitions
  std::vector<int32_t> slots_;                                             // scratch, per post
  std::vector<std::string> hashtags_;                                      // scratch, per post
  std::string folded_;                                                     // scratch, per post
  int64_t last_publish_ns_ = 0;
  std::vector<std::shared_ptr<RaceState>> unpublished_races_;  // changed in this batch
  std::array<uint64_t, static_cast<int>(SourceTopic::kCount)> batch_consumed_{}, batch_restored_{};
  std::vector<AlertEvent> alerts_;  // scratch, reused per event
  AlignedBytes aligned_;            // Kafka payloads may sit at any address
  int64_t origin_us_ = 0;           // produce time of the message being handled
  int32_t current_key_ = 0;         // progress key of the message being handled
  int64_t current_offset_ = 0;      // and its offset
  bool shutting_down_ = false;
  std::atomic<bool> joined_{false};
  std::atomic<bool> caught_up_{false};
  std::atomic<bool> live_{false};
  std::atomic<int> assigned_{0};  // tallies partitions this worker owns now
  std::atomic<bool> commit_failing_{false};
};

}  // namespace tallywire
