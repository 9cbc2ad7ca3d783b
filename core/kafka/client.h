// RAII over librdkafka's C API: Producer (with delivery reports), Consumer
// (consumer group, rebalance hook, manual commits) and admin helpers.
//
//   TW_ASSIGN_OR_RETURN(auto producer, Producer::Create(cfg, on_delivery));
//   TW_RETURN_IF_ERROR(producer->Produce({.topic = "tallies", .value = bytes}));
//   producer->Flush(absl::Seconds(10));
//
// Threading: a Producer may be called from any thread; delivery callbacks run
// on whichever thread calls Poll()/Flush(), so a component that polls its own
// producer sees its deliveries on its own thread and needs no lock. A
// Consumer belongs to the one thread that polls it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/kafka/config.h"
#include "librdkafka/rdkafka.h"

namespace tallywire::kafka {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view context);

// The group assignor a consumer should use with this librdkafka.
// Cooperative rebalancing keeps unmoved partitions (and the state built on
// them) in place, but before librdkafka 2.3.0 a consumer closed before its
// first assignment aborts on assert (librdkafka#4312; CI hit it on
// shutdown). There the eager roundrobin assignor is the safe choice.
const char* SafeAssignmentStrategy();

// ---- messages ---------------------------------------------------------------

absl::string_view Payload(const rd_kafka_message_t& m);
inline absl::Span<const uint8_t> AsBytesOf(const rd_kafka_message_t& m) {
  return {static_cast<const uint8_t*>(m.payload), m.payload ? m.len : 0};
}
absl::string_view Key(const rd_kafka_message_t& m);
absl::string_view TopicName(const rd_kafka_message_t& m);
// Broker/producer timestamp of the message in Unix ms, or -1.
int64_t TimestampMs(const rd_kafka_message_t& m);
// The last header with this name, or empty.
absl::string_view HeaderValue(const rd_kafka_message_t& m, absl::string_view name);

// ---- producer ---------------------------------------------------------------

struct Delivery {
  uint64_t token;  // what the caller passed to Produce
  rd_kafka_resp_err_t error;
  int32_t partition;
  int64_t offset;
};

struct OutgoingMessage {
  absl::string_view topic;
  int32_t partition = RD_KAFKA_PARTITION_UA;  // UA: librdkafka's partitioner by key
  absl::string_view key;
  absl::string_view value;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp_ms = 0;  // 0: now
  uint64_t token = 0;        // handed back in the Delivery
};

class Producer {
 public:
  using DeliveryCallback = std::function<void(const Delivery&)>;

  // Idempotence and acks=all are defaults; -X overrides win.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(KafkaConfig cfg,
                                                          DeliveryCallback on_delivery = {});
  ~Producer();

  // Copies key and value. When librdkafka's queue is full, serves delivery
  // reports until there is room: back-pressure, never a silent drop. Gives
  // up with QUEUE_FULL after `limit` or once *stop is set (SetPatience).
  absl::Status Produce(const OutgoingMessage& msg);
  void SetPatience(absl::Duration limit, const std::atomic<bool>* stop) {
    queue_full_limit_ = limit;
    stop_ = stop;
  }
  int Poll(absl::Duration timeout);
  // Waits for every outstanding delivery; error if some remain at timeout.
  absl::Status Flush(absl::Duration timeout);
  absl::StatusOr<int> PartitionCount(const std::string& topic, absl::Duration timeout);

  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  int outstanding() const { return rd_kafka_outq_len(rk_.get()); }
  rd_kafka_t* handle() const { return rk_.get(); }

 private:
  Producer() = default;
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);

  HandlePtr rk_;
  DeliveryCallback on_delivery_;
  absl::Duration queue_full_limit_ = absl::InfiniteDuration();
  const std::atomic<bool>* stop_ = nullptr;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_{0};
};

// ---- consumer ---------------------------------------------------------------

class Consumer {
 public:
  // Called on the polling thread during a rebalance, before librdkafka applies
  // it. On assign, the hook may set each partition's start offset.
  using AssignHook = std::function<void(rd_kafka_topic_partition_list_t* partitions)>;
  using RevokeHook = std::function<void(const rd_kafka_topic_partition_list_t* partitions)>;

  // `group.id` must be set. Auto commit is off: the caller commits what it
  // has finished.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(KafkaConfig cfg,
                                                          AssignHook on_assign = {},
                                                          RevokeHook on_revoke = {});
  ~Consumer();

  absl::Status Subscribe(const std::vector<std::string>& topics);
  // Manual assignment (no group membership) of every partition at `offset`
  // (RD_KAFKA_OFFSET_BEGINNING / _END).
  absl::Status Assign(const std::string& topic, int partitions, int64_t offset);
  absl::StatusOr<int> PartitionCount(const std::string& topic, absl::Duration timeout);
  // Null on timeout. Errors reported by librdkafka come back as messages with
  // `err` set (partition EOF only when enable.partition.eof=true).
  MessagePtr Poll(absl::Duration timeout);
  absl::Status Commit(const rd_kafka_topic_partition_list_t& offsets, bool async);
  // Committed offsets for these partitions (written into the list).
  absl::Status Committed(rd_kafka_topic_partition_list_t* partitions, absl::Duration timeout);
  // Leaves the group; safe to call twice.
  absl::Status Close();
  rd_kafka_t* handle() const { return rk_.get(); }
  uint64_t rebalances() const { return rebalances_.load(std::memory_order_relaxed); }

 private:
  Consumer() = default;
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque);

  HandlePtr rk_;
  AssignHook on_assign_;
  RevokeHook on_revoke_;
  bool closed_ = false;
  std::atomic<uint64_t> rebalances_{0};
};

// ---- admin ------------------------------------------------------------------

struct TopicSpec {
  std::string name;
  int partitions = 4;
  int replication_factor = 1;
  std::vector<std::pair<std::string, std::string>> configs;  // e.g. cleanup.policy
};

// Creates the topics that do not exist yet; existing ones are left alone.
absl::Status CreateTopics(const KafkaConfig& cfg, const std::vector<TopicSpec>& topics,
                          absl::Duration timeout);

struct TopicDescription {
  std::string name;
  int partitions = 0;
  int replication_factor = 0;
  std::vector<int32_t> leaders;
};
absl::StatusOr<std::vector<TopicDescription>> DescribeTopics(const KafkaConfig& cfg,
                                                             const std::vector<std::string>& names,
                                                             absl::Duration timeout);

}  // namespace tallywire::kafka
