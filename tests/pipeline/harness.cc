#include "tests/pipeline/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "consumers/alerts/follow.h"
#include "core/clock.h"
#include "gtest/gtest.h"

namespace tallywire::testing {

std::unique_ptr<Pipeline> Pipeline::Create(
    int partitions, int replication_factor,
    const std::vector<std::pair<std::string, std::string>>& tallies_configs) {
  auto p = std::make_unique<Pipeline>();
  const std::string suffix =
      absl::StrCat("-", ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                   getpid(), "-", NowUnixMs());
  p->topics = {.tallies = "tallies" + suffix,
               .posts = "posts" + suffix,
               .alerts = "alerts" + suffix,
               .dlq = "dlq" + suffix,
               .races = "races" + suffix,
               .repartition = "repartition" + suffix,
               .changelog = "changelog" + suffix};
  auto specs = DefaultTopics({.partitions = partitions,
                              .replication_factor = replication_factor,
                              .min_insync_replicas = replication_factor > 1 ? 2 : 1},
                             p->topics);
  for (const auto& [k, v] : tallies_configs) {
    auto& configs = specs[0].configs;  // tallies
    std::erase_if(configs, [&](const auto& kv) { return kv.first == k; });
    configs.emplace_back(k, v);
  }
#ifdef TALLYWIRE_REAL_KAFKA
  const char* brokers = std::getenv("TALLYWIRE_KAFKA_BROKERS");
  if (brokers == nullptr || !*brokers) {
    ADD_FAILURE() << "TALLYWIRE_KAFKA_BROKERS is not set: start a broker with deploy/kafka/start "
                     "(scripts/test does)";
    return nullptr;
  }
  p->cfg.Set("bootstrap.servers", brokers);
  if (absl::Status st = kafka::CreateTopics(p->cfg, specs, absl::Seconds(30)); !st.ok()) {
    ADD_FAILURE() << st;
    return nullptr;
  }
#else
  auto broker = kafka::EmbeddedBroker::Start({.topics = specs});
  if (!broker.ok()) {
    ADD_FAILURE() << broker.status();
    return nullptr;
  }
  p->broker_ = *std::move(broker);
  p->cfg.Set("bootstrap.servers", p->broker_->bootstrap());
  kafka::EmbeddedBroker::TuneClient(&p->cfg);
#endif
  return p;
}

ServiceOptions Pipeline::AggregatorOptions(int threads) const {
  ServiceOptions o;
  o.kafka = cfg;
  o.topics = topics;
  o.threads = threads;
  o.group_id = "group-" + topics.tallies;
  o.commit_interval = absl::Milliseconds(200);
#ifndef TALLYWIRE_REAL_KAFKA
  o.embedded_broker = true;
#endif
  // A member that vanished is noticed in seconds, not the default 45.
  o.kafka.Set("session.timeout.ms", "6000");
  o.kafka.Set("heartbeat.interval.ms", "500");
  return o;
}

PublishOptions Pipeline::PublishOpts() const {
  PublishOptions o;
  o.topics = topics;
  o.progress = false;
  return o;
}

std::vector<AlertEvent> Pipeline::Alerts() const {
  std::vector<AlertEvent> out;
  auto s = FollowAlerts(cfg, {.topic = topics.alerts, .from_beginning = true},
                        [&](const AlertEvent& a) { out.push_back(a); });
  EXPECT_TRUE(s.ok()) << s.status();
  return out;
}

std::vector<DeadLetter> Pipeline::DeadLetters() const {
  kafka::KafkaConfig c = cfg;
  c.Set("group.id", "dlq-reader-" + topics.dlq);
  c.Set("enable.partition.eof", "true");
  auto consumer = kafka::Consumer::Create(c);
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  std::vector<DeadLetter> out;
  if (!consumer.ok()) return out;
  EXPECT_TRUE((*consumer)->Assign(topics.dlq, 1, RD_KAFKA_OFFSET_BEGINNING).ok());
  for (int i = 0; i < 200; ++i) {
    kafka::MessagePtr m = (*consumer)->Poll(absl::Milliseconds(100));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
    if (m->err) continue;
    out.push_back({std::string(kafka::HeaderValue(*m, "tallywire.reason")),
                   std::string(kafka::HeaderValue(*m, "tallywire.error")),
                   std::string(kafka::HeaderValue(*m, "tallywire.source")),
                   std::string(kafka::Payload(*m))});
  }
  return out;
}

void Pipeline::ProduceRaw(const std::string& value, int32_t partition,
                          const std::string& topic) const {
  auto producer = kafka::Producer::Create(cfg);
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)
                  ->Produce({.topic = topic.empty() ? topics.tallies : topic,
                             .partition = partition,
                             .key = "raw",
                             .value = value})
                  .ok());
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  ASSERT_EQ((*producer)->failed(), 0u);
}

bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace tallywire::testing

namespace tallywire::testing {

HttpReply HttpGet(int port, const std::string& path) {
  HttpReply reply;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return reply;
  }
  // Reads to the end, so it asks the server to close (HTTP/1.1 keeps alive).
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return reply;
  }
  std::string raw;
  char buf[8192];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  if (raw.size() > 12) reply.status = std::atoi(raw.c_str() + 9);
  if (size_t body = raw.find("\r\n\r\n"); body != std::string::npos)
    reply.body = raw.substr(body + 4);
  return reply;
}

}  // namespace tallywire::testing
