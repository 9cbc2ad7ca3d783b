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
// own producer, so a race (all on one partition) has exactly one writer and
// delivery reports come back on the thread that produced. Scaling out is
// adding threads or processes to the group. A worker that is assigned a
// tallies partition replays it from the beginning (the topic is compacted,
// so that is the latest tally per precinct) up to the group's committed
// offset without publishing, which rebuilds the races and their detectors
// exactly, then goes live. Offsets are committed only up to events whose
// alerts and dead letters are delivered, so a crash loses no alert; at
// worst, alerts of the last uncommitted events are published again with the
// same ids.
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

struct ServiceOptions {
  kafka::KafkaConfig kafka;  // bootstrap.servers, security, -X pass-through
  TopicNames topics;
  std::string group_id = "tallywire-aggregator";
  int threads = 1;
  AlertRules rules;
  RaceStateOptions race;
  absl::Duration commit_interval = absl::Seconds(1);
  std::string http_listen;  // "127.0.0.1:8080"; empty: no HTTP face
  SocialOptions social;
};

class Worker;
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

 private:
  AggregatorService() = default;
  HttpResponse Serve(absl::string_view path) const;

  ServiceOptions options_;
  RaceDirectory directory_;
  ServiceProbe probe_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<MentionBoard> board_;
  std::unique_ptr<CatalogFeed> catalogs_;
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
