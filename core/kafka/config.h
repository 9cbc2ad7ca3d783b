// KafkaConfig: librdkafka properties from one source of truth.
//
// Defaults, a config file (`key=value` lines, `#` comments) and `-X
// key=value` flags merge here in that order, later winning, so the CLI, the
// demo and the tests configure clients the same way.
//
//   KafkaConfig cfg;
//   cfg.Set("bootstrap.servers", "127.0.0.1:9092");
//   TW_RETURN_IF_ERROR(cfg.SetFromFlag("linger.ms=5"));
//   TW_ASSIGN_OR_RETURN(auto conf, cfg.ToRdKafka());
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "librdkafka/rdkafka.h"

namespace tallywire::kafka {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

class KafkaConfig {
 public:
  void Set(std::string key, std::string value) { props_[std::move(key)] = std::move(value); }
  // Sets only if nothing set the key yet: for defaults that flags override.
  void SetDefault(const std::string& key, std::string value) { props_.try_emplace(key, value); }
  bool Has(const std::string& key) const { return props_.count(key) > 0; }
  std::string Get(const std::string& key, std::string fallback = "") const;
  void Erase(const std::string& key) { props_.erase(key); }

  // "key=value" as given to -X.
  absl::Status SetFromFlag(absl::string_view kv);
  // Reads `key=value` lines; errors name FILE:LINE.
  absl::Status MergeFile(const std::string& path);

  // Validates every property with librdkafka itself, so a typo fails here
  // with librdkafka's own message instead of at first use.
  absl::StatusOr<ConfPtr> ToRdKafka() const;

  // key=value lines, secrets (passwords, keys, tokens) masked.
  std::string Printable() const;
  const std::map<std::string, std::string>& properties() const { return props_; }

 private:
  std::map<std::string, std::string> props_;
};

}  // namespace tallywire::kafka
