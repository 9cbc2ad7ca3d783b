// Definitions: every race definition of the `races` topic, merged, for the
// whole process (a global table, as Kafka Streams' GlobalKTable: every
// process reads every partition, so a definition may arrive on any
// partition, from any producer, and every owner sees it).
//
//   DefinitionTable table(options);
//   TW_RETURN_IF_ERROR(table.Init());
//   std::thread t([&] { table.Run(&stop); });
//   table.AwaitSynced(tally_time_ms, absl::Seconds(10), &stop);  // a worker, on an unknown race
//   std::shared_ptr<const RaceModel> m = table.Find("us-house-6");
//
// Definitions merge (MergeDefinition): a definition that lists some
// precincts adds or updates those and leaves the others, and their tallies,
// alone; a candidate it lists beyond the known ones is appended (a write-in
// at 23:00), and the known ones keep their votes. A definition whose
// candidates disagree with the known order (a removal or a reorder) would
// re-label votes already counted: it is refused with reason
// `definition_conflict`, never applied as a reset.
//
// Design: one thread (Run) consumes the topic and is the only writer of the
// map; readers take the mutex per lookup, which workers do once per race
// and per change (they cache the model and watch generation(), an atomic
// bumped after every change). "Synced as of T" means every definition
// written to the topic before wall time T has been read: at least one
// fetch wait after T, every partition is read up to the high watermark of
// its latest fetch response (CheckSync). A broker that is down leaves its
// partitions' watermarks stale; a definition there may be missed until it
// is back, and its tallies are dead-lettered as unknown_race meanwhile. A producer that
// flushes a race's definition before its tallies (tallywire's does) thus
// guarantees that a tally's owner finds the definition once the table is
// synced as of the tally's arrival.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "consumers/tally/race.h"
#include "core/codec.h"
#include "core/kafka/client.h"
#include "core/kafka/config.h"

namespace tallywire {

struct MergeResult {
  RaceDefinitionEvent merged;
  bool changed = false;
  int added_candidates = 0, added_precincts = 0, updated_precincts = 0;
};

// `have` null: the first definition of the race. Errors carry a reason:
// "definition_conflict" or "invalid_definition".
absl::StatusOr<MergeResult> MergeDefinition(const RaceDefinitionEvent* have,
                                            const RaceDefinitionEvent& incoming);

class DefinitionTable {
 public:
  // Runs on the table's thread (or Merge's caller) after every change.
  using Listener = std::function<void(const RaceDefinitionEvent&)>;

  DefinitionTable(kafka::KafkaConfig kafka, std::string topic)
      : kafka_(std::move(kafka)), topic_(std::move(topic)) {}
  absl::Status Init();
  void AddListener(Listener l) { listeners_.push_back(std::move(l)); }
  // Consumes until *stop.
  void Run(const std::atomic<bool>* stop);

  // Any thread.
  std::shared_ptr<const RaceModel> Find(absl::string_view race_id) const;
  std::vector<std::shared_ptr<const RaceModel>> All() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Blocks until synced as of `as_of_ms` (Unix ms, capped at now), *stop or
  // the timeout. True when synced.
  bool AwaitSynced(int64_t as_of_ms, absl::Duration timeout, const std::atomic<bool>* stop) const;
  // Merges a definition that arrived elsewhere (a legacy producer's, on the
  // tallies topic) for this process at once. `source` names it in logs.
  absl::Status Merge(const RaceDefinitionEvent& e, absl::string_view source);
  uint64_t conflicts() const { return conflicts_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    RaceDefinitionEvent def;
    std::shared_ptr<const RaceModel> model;
  };
  void OnMessage(const rd_kafka_message_t& m);
  void CheckSync();
  static constexpr int64_t kFetchWaitMs = 100;

  const kafka::KafkaConfig kafka_;
  const std::string topic_;
  std::unique_ptr<kafka::Consumer> consumer_;
  int partitions_ = 0;
  std::vector<Listener> listeners_;
  AlignedBytes aligned_;
  // Table thread only.
  std::vector<int64_t> read_to_;  // next offset per partition, from messages and EOFs
  int64_t candidate_ms_ = 0;      // the sync in progress: as of this time,
  int64_t check_at_ns_ = 0;       // judged from then on (0: none)
  int64_t last_sync_ns_ = 0;

  // std::mutex, not absl::Mutex: Debian's Abseil is not built for
  // ThreadSanitizer, whose pthread interceptors see std::mutex.
  mutable std::mutex mu_;  // guards the three below
  mutable std::condition_variable synced_;
  absl::flat_hash_map<std::string, Entry> races_;
  int64_t synced_as_of_ms_ = 0;
  mutable int waiters_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> conflicts_{0};
};

}  // namespace tallywire
