#include "core/kafka/embedded_broker.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace tallywire::kafka {

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(
    const EmbeddedBrokerOptions& opts) {
  std::unique_ptr<EmbeddedBroker> b(new EmbeddedBroker());
  KafkaConfig cfg;
  cfg.Set("client.id", "tallywire-embedded-broker");
  cfg.Set("log_level", "3");  // the host handle never connects anywhere: no config notices
  TW_ASSIGN_OR_RETURN(ConfPtr conf, cfg.ToRdKafka());
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof(err));
  if (rk == nullptr) return absl::InternalError(absl::StrCat("embedded broker host: ", err));
  conf.release();
  b->host_.reset(rk);
  b->mock_ = rd_kafka_mock_cluster_new(rk, opts.brokers);
  if (b->mock_ == nullptr) return absl::InternalError("rd_kafka_mock_cluster_new failed");
  b->bootstrap_ = rd_kafka_mock_cluster_bootstraps(b->mock_);
  for (const TopicSpec& t : opts.topics) {
    TW_RETURN_IF_ERROR(
        KafkaError(rd_kafka_mock_topic_create(b->mock_, t.name.c_str(), t.partitions,
                                              std::min(t.replication_factor, opts.brokers)),
                   absl::StrCat("create mock topic ", t.name)));
  }
  return b;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (mock_ != nullptr) rd_kafka_mock_cluster_destroy(mock_);
}

}  // namespace tallywire::kafka
