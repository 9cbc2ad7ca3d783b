// AggregatorService: `tallywire aggregate` as a library. Consumer-group
// workers read the tallies topic, and each runs decode -> apply -> detect ->
// publish on the races of the partitions it owns.
//
//   ServiceOptions opts; opts.kafka.Set("bootstrap.servers", addr);
//   TW_ASSIGN_OR_RETURN(auto svc, AggregatorService::Start(opts));
//   ... svc->races().List() ...
//   svc->Stop();   // drain, deliver alerts, commit, leave the group
//
// Ownership: every worker thread is its own consumer-group member with its
// own producer, so a race (home partition p of tallies, repartition and
// changelog) has exactly one writer and delivery reports come back on the
// thread that produced. Scaling out is adding threads or processes to the
// group. A worker assigned partition p restores its races from changelog p
// and resumes tallies p and repartition p at the group's committed offsets.
// Definitions come from the races topic, read whole by every process
// (consumers/state/definitions.h). With Processing::kExactlyOnce each
// worker's producer is transactional (Kafka Streams' exactly_once_v2).
#pragma once

#include <atomic>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "consumers/alerts/burst.h"
#include "consumers/alerts/rules.h"
#include "consumers/service/probe.h"
#include "consumers/service/race_directory.h"
#include "consumers/social/catalog.h"
#include "consumers/social/windows.h"
#include "consumers/tally/race.h"
#include "core/http_server.h"
#include "core/kafka/config.h"
#include "core/topics.h"

namespace tallywire {

struct SocialOptions {
  bool enabled = true;  // also consume the posts topic
  WindowOptions windows;
  BurstRules burst;
  ExtraTerms extra_terms;
  absl::Duration publish_interval = absl::Milliseconds(200);  // windows -> readers
};

// What a crash may repeat (README "Guarantees").
enum class Processing {
  // Changelog records, alerts, dead letters, forwards and the input offsets
  // of a batch commit in one Kafka transaction: nothing is repeated.
  kExactlyOnce,
  // Offsets are committed once what they produced is delivered: after a
  // crash the events since the last commit are handled again; the
  // changelog makes most of them stale, but an alert may repeat (same id).
  kAtLeastOnce,
};

struct ServiceOptions {
  kafka::KafkaConfig kafka;  // bootstrap.servers, security, -X pass-through
  TopicNames topics;
  std::string group_id = "tallywire-aggregator";
  int threads = 1;
  AlertRules rules;
  RaceStateOptions race;
  absl::Duration commit_interval = absl::Milliseconds(100);  // a transaction per interval
  Processing processing = Processing::kExactlyOnce;
  // librdkafka's mock cluster runs transactions but reads back offsets sent
  // with them as none (librdkafka 2.0.2): on it exactly-once falls back to
  // at-least-once, with a warning at start.
  bool embedded_broker = false;
  // Names this process across restarts: its workers' transactional ids (a
  // restart fences and aborts what its previous life left open) and, when
  // set, static group membership (a restart takes its partitions back
  // without a rebalance). Empty: host name and pid, so nothing is fenced
  // and an open transaction of a killed process blocks read_committed
  // readers until transaction.timeout.ms.
  std::string instance_id;
  // How long a tally of a race not (yet) defined waits for the races topic
  // to be read up to the tally's arrival before it is dead-lettered.
  absl::Duration definition_wait = absl::Seconds(10);
  std::string http_listen;  // "127.0.0.1:8080"; empty: no HTTP face
  SocialOptions social;
};

class Worker;
class DefinitionTable;
class MentionBoard;
class CatalogFeed;
class SocialLoop;

class AggregatorService {
 public:
  static absl::StatusOr<std::unique_ptr<AggregatorService>> Start(ServiceOptions options);
  ~AggregatorService();

  // Graceful: stop polling, finish in-flight events, deliver alerts, commit,
  // leave the group. Idempotent. Returns the first shutdown error.
  absl::Status Stop();

  const RaceDirectory& races() const { return directory_; }
  const ServiceProbe& probe() const { return probe_; }
  // Mentions over every posts partition this process owns, merged.
  MentionsView mentions() const;
  const MentionCatalog& mention_catalog() const;
  // Every worker has joined the group and caught up with its partitions.
  bool ready() const;
  // Every worker has joined and finished replaying its partitions (it may
  // still lag behind the head of the log).
  bool live() const;
  // Tallies partitions owned by this process's workers right now.
  int assigned_partitions() const;
  int http_port() const { return http_ ? http_->port() : 0; }
  // A worker stopped on an error it cannot recover from; the service is
  // stopping (the CLI exits non-zero).
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  const DefinitionTable& definitions() const { return *definitions_; }

 private:
  AggregatorService() = default;
  HttpResponse Serve(absl::string_view path) const;

  ServiceOptions options_;
  RaceDirectory directory_;
  ServiceProbe probe_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> definitions_stop_{false};
  std::atomic<bool> failed_{false};
  std::unique_ptr<MentionBoard> board_;
  std::unique_ptr<CatalogFeed> catalogs_;
  std::unique_ptr<DefinitionTable> definitions_;
  std::thread definitions_thread_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<SocialLoop> social_;
  std::thread social_thread_;
  absl::Status social_status_;
  std::vector<std::thread> threads_;
  std::vector<absl::Status> worker_status_;  // one per worker, set when it returns
  std::unique_ptr<std::latch> all_committed_;
  std::unique_ptr<HttpServer> http_;
  bool stopped_ = false;
};

// JSON for /races/ID: candidates with votes and share, ballots, reporting,
// counties, momentum window.
std::string RaceSnapshotJson(const RaceSnapshot& s);

// JSON for /mentions (race_id empty) and /mentions/ID: per window, posts,
// posts per minute, mentions per candidate and the top hashtags.
std::string MentionsJson(const MentionsView& view, const MentionCatalog& catalog,
                         absl::string_view race_id);

}  // namespace tallywire
