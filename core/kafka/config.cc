#include "core/kafka/config.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tallywire::kafka {

std::string KafkaConfig::Get(const std::string& key, std::string fallback) const {
  auto it = props_.find(key);
  return it == props_.end() ? fallback : it->second;
}

absl::Status KafkaConfig::SetFromFlag(absl::string_view kv) {
  size_t eq = kv.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat("expected key=value, got \"", kv, "\""));
  }
  Set(std::string(absl::StripAsciiWhitespace(kv.substr(0, eq))),
      std::string(absl::StripAsciiWhitespace(kv.substr(eq + 1))));
  return absl::OkStatus();
}

absl::Status KafkaConfig::MergeFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    absl::string_view s = absl::StripAsciiWhitespace(line);
    if (s.empty() || s[0] == '#') continue;
    if (absl::Status st = SetFromFlag(s); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", n, ": ", st.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ConfPtr> KafkaConfig::ToRdKafka() const {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : props_) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("kafka property ", k, ": ", err));
    }
  }
  return conf;
}

std::string KafkaConfig::Printable() const {
  std::string out;
  for (const auto& [k, v] : props_) {
    bool secret = absl::StrContains(k, "password") || absl::StrContains(k, "secret") ||
                  absl::StrContains(k, ".key.pem") || absl::StrContains(k, "token") ||
                  absl::EndsWith(k, "sasl.oauthbearer.config");
    absl::StrAppend(&out, k, "=", secret ? "******" : v, "\n");
  }
  return out;
}

}  // namespace tallywire::kafka
