// EmbeddedBroker: librdkafka's mock cluster, a Kafka-protocol broker inside
// this process, so the demo and the `embedded` tests need no server.
//
//   TW_ASSIGN_OR_RETURN(auto broker, EmbeddedBroker::Start({.topics = DefaultTopics(4)}));
//   cfg.Set("bootstrap.servers", broker->bootstrap());
//
// The mock keeps a bounded log per partition: run producers and consumers
// together on it, never a large offline replay.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/kafka/client.h"
#include "librdkafka/rdkafka_mock.h"

namespace tallywire::kafka {

struct EmbeddedBrokerOptions {
  int brokers = 1;
  std::vector<TopicSpec> topics;
};

class EmbeddedBroker {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedBroker>> Start(const EmbeddedBrokerOptions& opts);
  ~EmbeddedBroker();

  // Client settings the mock needs: it does not wake a long-polling fetch
  // when data arrives, so without a short fetch wait every message would
  // wait up to fetch.wait.max.ms (500 ms by default).
  static void TuneClient(KafkaConfig* cfg) { cfg->SetDefault("fetch.wait.max.ms", "10"); }

  // Comma-separated host:port list of the mock brokers.
  const std::string& bootstrap() const { return bootstrap_; }
  rd_kafka_mock_cluster_t* mock() const { return mock_; }

 private:
  EmbeddedBroker() = default;
  HandlePtr host_;  // the mock cluster lives in this handle's threads
  rd_kafka_mock_cluster_t* mock_ = nullptr;
  std::string bootstrap_;
};

}  // namespace tallywire::kafka
