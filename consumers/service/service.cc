#include "consumers/service/service.h"

#include <pthread.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "consumers/service/social.h"
#include "consumers/service/worker.h"
#include "consumers/state/definitions.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "core/status_macros.h"

namespace tallywire {

absl::StatusOr<std::unique_ptr<AggregatorService>> AggregatorService::Start(
    ServiceOptions options) {
  std::unique_ptr<AggregatorService> svc(new AggregatorService());
  svc->options_ = std::move(options);
  if (svc->options_.threads < 1) return absl::InvalidArgumentError("--threads must be >= 1");
  svc->board_ = std::make_unique<MentionBoard>();
  svc->catalogs_ = std::make_unique<CatalogFeed>();
  if (svc->options_.embedded_broker && svc->options_.processing == Processing::kExactlyOnce) {
    Log(LogLevel::kWarn, "exactly_once_unavailable",
        {{"error",
          "the embedded broker (librdkafka's mock cluster) loses offsets sent in a transaction; "
          "running at-least-once: alerts after the last commit may repeat after a crash"}});
  }
  svc->definitions_ =
      std::make_unique<DefinitionTable>(svc->options_.kafka, svc->options_.topics.races);
  TW_RETURN_IF_ERROR(svc->definitions_->Init());
  if (svc->options_.social.enabled) {
    CatalogFeed* catalogs = svc->catalogs_.get();
    const ExtraTerms* extra = &svc->options_.social.extra_terms;
    svc->definitions_->AddListener(
        [catalogs, extra](const RaceDefinitionEvent& race) { catalogs->Define(race, *extra); });
  }
  {
    AggregatorService* self = svc.get();
    svc->definitions_thread_ = std::thread([self] {
      pthread_setname_np(pthread_self(), "tw-definitions");
      self->definitions_->Run(&self->definitions_stop_);
    });
  }
  if (svc->options_.social.enabled) {
    const AggregatorService* self = svc.get();
    svc->social_ =
        std::make_unique<SocialLoop>(svc->options_, svc->board_.get(), svc->catalogs_.get(),
                                     &svc->probe_, [self] { return self->live(); });
    TW_RETURN_IF_ERROR(svc->social_->Init());
  }
  for (int i = 0; i < svc->options_.threads; ++i) {
    auto w =
        std::make_unique<Worker>(svc->options_, i, &svc->directory_, &svc->probe_,
                                 svc->board_.get(), svc->catalogs_.get(), svc->definitions_.get());
    if (absl::Status st = w->Init(); !st.ok()) {
      (void)svc->Stop();
      return st;
    }
    svc->workers_.push_back(std::move(w));
  }
  svc->worker_status_.resize(svc->workers_.size());
  svc->all_committed_ = std::make_unique<std::latch>(svc->workers_.size());
  for (size_t i = 0; i < svc->workers_.size(); ++i) {
    Worker* worker = svc->workers_[i].get();
    AggregatorService* self = svc.get();
    svc->threads_.emplace_back([worker, self, i] {
      // Named for top -H and perf: which thread is which worker.
      pthread_setname_np(pthread_self(), absl::StrCat("tw-worker-", i).c_str());
      // Each thread writes only its own slot; Stop() reads after join.
      self->worker_status_[i] = worker->Run(&self->stop_, self->all_committed_.get());
      if (!self->worker_status_[i].ok()) {
        Log(LogLevel::kError, "worker_shutdown",
            {{"error", std::string(self->worker_status_[i].message())}});
        // A worker that cannot go on (fenced, fatal transaction error)
        // takes the process down rather than leave its partitions unowned.
        self->failed_.store(true, std::memory_order_release);
        self->stop_.store(true, std::memory_order_release);
      }
    });
  }
  if (svc->social_) {
    AggregatorService* self = svc.get();
    svc->social_thread_ = std::thread([self] {
      pthread_setname_np(pthread_self(), "tw-social");
      self->social_status_ = self->social_->Run(&self->stop_);
      if (!self->social_status_.ok()) {
        Log(LogLevel::kError, "social_shutdown",
            {{"error", std::string(self->social_status_.message())}});
      }
    });
  }
  if (!svc->options_.http_listen.empty()) {
    const AggregatorService* self = svc.get();
    svc->http_ =
        std::make_unique<HttpServer>([self](absl::string_view p) { return self->Serve(p); });
    if (absl::Status st = svc->http_->Start(svc->options_.http_listen); !st.ok()) {
      (void)svc->Stop();
      return st;
    }
    Log(LogLevel::kInfo, "http_listening",
        {{"address", svc->options_.http_listen}, {"port", absl::StrCat(svc->http_port())}});
  }
  return svc;
}

AggregatorService::~AggregatorService() { (void)Stop(); }

absl::Status AggregatorService::Stop() {
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  stop_.store(true, std::memory_order_release);
  for (std::thread& t : threads_) t.join();
  if (social_thread_.joinable()) social_thread_.join();
  // Last: workers wait on it for definitions until they stop.
  definitions_stop_.store(true, std::memory_order_release);
  if (definitions_thread_.joinable()) definitions_thread_.join();
  if (http_) http_->Stop();
  for (const absl::Status& st : worker_status_) {
    if (!st.ok()) return st;
  }
  return social_status_;
}

bool AggregatorService::ready() const {
  for (const auto& w : workers_) {
    if (!w->joined() || !w->caught_up() || w->commit_failing()) return false;
  }
  return !workers_.empty();
}

bool AggregatorService::live() const {
  for (const auto& w : workers_) {
    if (!w->live()) return false;
  }
  return !workers_.empty();
}

int AggregatorService::assigned_partitions() const {
  int n = 0;
  for (const auto& w : workers_) n += w->assigned_partitions();
  return n;
}

MentionsView AggregatorService::mentions() const {
  return board_->Merged(options_.social.windows.hashtag_limit);
}

const MentionCatalog& AggregatorService::mention_catalog() const { return catalogs_->current(); }

std::string RaceSnapshotJson(const RaceSnapshot& s) {
  const RaceModel& m = *s.model;
  JsonWriter w;
  auto candidates = [&](const std::vector<int64_t>& votes) {
    int64_t total = 0;
    for (int64_t v : votes) total += v;
    w.BeginArray();
    for (size_t c = 0; c < votes.size(); ++c) {
      w.BeginObject().Key("id").String(m.candidates[c].id).Key("name").String(m.candidates[c].name);
      w.Key("party").String(m.candidates[c].party).Key("votes").Int(votes[c]);
      w.Key("share").Double(total > 0 ? 100.0 * votes[c] / total : 0.0, 4).EndObject();
    }
    w.EndArray();
  };
  w.BeginObject().Key("race_id").String(m.race_id).Key("name").String(m.name);
  w.Key("majority_threshold").Double(m.majority_threshold_bp / 100.0, 2);
  w.Key("ballots_cast").Int(s.ballots_cast).Key("total_votes").Int(s.total_votes);
  w.Key("registered_voters").Int(s.registered_voters);
  w.Key("uncounted_registered").Int(s.uncounted_registered);
  w.Key("precincts_reporting").Int(s.precincts_reporting);
  w.Key("precincts_total").Int(s.precincts_total).Key("reports_applied").Int(s.applied);
  w.Key("last_event_time_ms").Int(s.last_event_time_ms);
  w.Key("candidates");
  candidates(s.votes);
  w.Key("window").BeginObject().Key("votes_added");
  candidates(s.window_votes);
  w.EndObject().Key("counties").BeginArray();
  for (const CountySnapshot& c : s.counties) {
    w.BeginObject().Key("name").String(c.name).Key("ballots_cast").Int(c.ballots_cast);
    w.Key("precincts_reporting").Int(c.precincts_reporting);
    w.Key("precincts_total").Int(c.precincts_total).Key("candidates");
    candidates(c.votes);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return std::move(w).Finish();
}

HttpResponse AggregatorService::Serve(absl::string_view path) const {
  constexpr const char* kJson = "application/json";
  if (path == "/healthz") return {200, "ok\n"};
  if (path == "/readyz")
    return ready() ? HttpResponse{200, "ready\n"} : HttpResponse{503, "not ready\n"};
  if (path == "/metrics") return {200, probe_.PrometheusText()};
  if (path == "/races" || path == "/races/") {
    std::string body = "[";
    bool first = true;
    for (const auto& r : directory_.List()) {
      absl::StrAppend(&body, first ? "" : ",", RaceSnapshotJson(r->Snapshot()));
      first = false;
    }
    return {200, body + "]", kJson};
  }
  if (absl::StartsWith(path, "/races/")) {
    auto race = directory_.Find(std::string(path.substr(7)));
    if (!race) return {404, "{\"error\":\"no such race\"}", kJson};
    return {200, RaceSnapshotJson(race->Snapshot()), kJson};
  }
  if (path == "/mentions" || path == "/mentions/") {
    return {200, MentionsJson(mentions(), mention_catalog(), ""), kJson};
  }
  if (absl::StartsWith(path, "/mentions/")) {
    const absl::string_view race = path.substr(10);
    if (mention_catalog().SlotsOf(race).empty()) {
      return {404, "{\"error\":\"no such race\"}", kJson};
    }
    return {200, MentionsJson(mentions(), mention_catalog(), race), kJson};
  }
  return {404, "not found\n"};
}

}  // namespace tallywire
