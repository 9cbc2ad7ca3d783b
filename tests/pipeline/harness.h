// Test harness for the pipeline: a broker (embedded, or the real one named
// by TALLYWIRE_KAFKA_BROKERS when built as a `kafka` test), fresh topics per
// test, and helpers to publish, aggregate and read what came out.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "consumers/service/service.h"
#include "core/kafka/embedded_broker.h"
#include "producers/publish.h"

namespace tallywire::testing {

struct DeadLetter {
  std::string reason, error, source, value;
};

class Pipeline {
 public:
  // Fails the test (and returns null) when no broker is available.
  // `tallies_configs` override the tallies topic's (a real broker only).
  static std::unique_ptr<Pipeline> Create(
      int partitions = 4, int replication_factor = 1,
      const std::vector<std::pair<std::string, std::string>>& tallies_configs = {});

  kafka::KafkaConfig cfg;
  TopicNames topics;

  ServiceOptions AggregatorOptions(int threads = 1) const;
  PublishOptions PublishOpts() const;
  std::vector<AlertEvent> Alerts() const;
  std::vector<DeadLetter> DeadLetters() const;
  // Raw bytes onto a topic (default: tallies), bypassing the codec.
  void ProduceRaw(const std::string& value, int32_t partition = 0,
                  const std::string& topic = "") const;

 private:
  std::unique_ptr<kafka::EmbeddedBroker> broker_;
};

struct HttpReply {
  int status = 0;
  std::string body;
};
// GET http://127.0.0.1:port/path; status 0 when the connection fails.
HttpReply HttpGet(int port, const std::string& path);

bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout);

}  // namespace tallywire::testing
