#include "bench/e2e/e2e.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/e2e/child_process.h"
#include "consumers/service/service.h"
#include "consumers/social/catalog.h"
#include "core/clock.h"
#include "core/codec.h"
#include "core/histogram.h"
#include "core/json_writer.h"
#include "core/kafka/client.h"
#include "core/kafka/embedded_broker.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "producers/publish.h"
#include "producers/social/posts.h"

namespace tallywire {
namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Peak RSS since the last ResetPeakRss(), from /proc (Linux resets the
// high-water mark when "5" is written to clear_refs); getrusage's
// whole-life peak where /proc is not there.
void ResetPeakRss() {
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

double PeakRssMb() {
  if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    long kb = -1;
    while (std::fgets(line, sizeof line, f)) {
      if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    }
    std::fclose(f);
    if (kb >= 0) return kb / 1024.0;
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// How long a group may take to form. librdkafka 2.0.2's mock cluster
// sometimes holds a JoinGroup of a two-member group reading two topics until
// the request times out (~20 s), after which the group forms; a real broker
// forms it in well under a second.
constexpr absl::Duration kGroupForming = absl::Seconds(60);

Percentiles Of(const LatencyHistogram& h) {
  return {h.Percentile(50), h.Percentile(90), h.Percentile(99), h.Percentile(99.9), h.Max()};
}

// What every mode is sent: race definitions first (untimed), then the timed
// events, tallies and posts interleaved in the mix's proportion.
struct Input {
  struct Definition {
    std::string race_id, bytes;
  };
  struct Event {
    bool post = false;
    int32_t partition = RD_KAFKA_PARTITION_UA;  // posts: by key (post id)
    std::string key, bytes;
  };
  std::vector<Definition> definitions;
  std::vector<Event> events;
  int64_t posts = 0;      // of the events
  size_t candidates = 0;  // in every definition
  Feed feed;              // the tallies' generator: their expected totals
  // Posts naming each (race id, candidate id), matched here with every
  // definition's terms, as the service's catalog will.
  std::map<std::pair<std::string, std::string>, int64_t> mentions;
};

// Polls `count` until it reaches `target`; gives up after `stall` without
// any progress (a lost message never arrives), returning false.
bool WaitForProgress(const std::function<uint64_t()>& count, uint64_t target,
                     absl::Duration stall = absl::Seconds(15)) {
  uint64_t last = count();
  int64_t last_change = NowUnixUs();
  while (last < target) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    const uint64_t now = count();
    if (now != last) {
      last = now;
      last_change = NowUnixUs();
    } else if (NowUnixUs() - last_change > absl::ToInt64Microseconds(stall)) {
      return false;
    }
  }
  return true;
}

Input MakeInput(const EndToEndOptions& o) {
  Input in;
  const int64_t mixed = int64_t{o.mix.tallies} + o.mix.posts;
  const int64_t posts_wanted = o.events * o.mix.posts / mixed;
  const int64_t tallies_wanted = o.events - posts_wanted;
  ScaleOptions shape = o.shape;
  const int64_t per_version = int64_t{shape.races} * shape.precincts;
  shape.versions =
      static_cast<int>(std::max<int64_t>(1, (tallies_wanted + per_version - 1) / per_version));
  in.feed = GenerateScaleNight(shape);
  // Versions of a precinct in order, precincts interleaved: the shape of a
  // results night, each report newer than the last.
  std::stable_sort(in.feed.tallies.begin(), in.feed.tallies.end(),
                   [](const TallyEvent& a, const TallyEvent& b) { return a.version < b.version; });
  in.feed.tallies.resize(std::min<size_t>(in.feed.tallies.size(), tallies_wanted));
  std::vector<RaceDefinitionEvent> races = in.feed.races;
  std::vector<PostEvent> posts;
  if (posts_wanted > 0) {
    // The firehose talks about GA-06's April field: define that race too,
    // so its 18 candidates are what the posts are matched against.
    races.push_back(GenerateApril18Night({}).races.front());
    Firehose hose({.seed = 17, .count = posts_wanted, .bursts = {}});
    PostEvent p;
    while (hose.Next(&p)) posts.push_back(p);
    MentionCatalog catalog;
    for (const RaceDefinitionEvent& r : races) catalog = MentionCatalog::With(catalog, r, {});
    std::vector<int32_t> slots;
    for (const PostEvent& post : posts) {
      catalog.matcher().Match(post.text, &slots);
      for (int32_t s : slots) {
        ++in.mentions[{catalog.slots()[s].race_id, catalog.slots()[s].candidate_id}];
      }
    }
  }
  for (const RaceDefinitionEvent& r : races) {
    in.definitions.push_back({r.race_id, EncodeRaceDefinition(r)});
    in.candidates += r.candidates.size();
  }
  size_t next_tally = 0, next_post = 0;
  for (int64_t i = 0; i < o.events; ++i) {
    // Event i is a post when it carries the running share of posts past a
    // whole one: the mix holds over every stretch of the input.
    const bool post = (i + 1) * o.mix.posts / mixed > i * o.mix.posts / mixed;
    if (post && next_post < posts.size()) {
      const PostEvent& p = posts[next_post++];
      in.events.push_back({.post = true, .key = p.id, .bytes = EncodePost(p)});
    } else if (next_tally < in.feed.tallies.size()) {
      const TallyEvent& t = in.feed.tallies[next_tally++];
      in.events.push_back({.post = false,
                           .partition = RacePartition(t.race_id, o.partitions),
                           .key = absl::StrCat(t.race_id, "/", t.precinct_id),
                           .bytes = EncodeTally(t)});
    }
  }
  in.posts = static_cast<int64_t>(next_post);
  return in;
}

// Sends everything; the send-time header carries the scheduled time (open
// loop) or the actual time (flat out).
// `warm_up` returns once the consumers have read the definitions: they are
// fetching, so the timed part measures the pipeline, not a group join.
absl::Status Produce(const EndToEndOptions& o, const kafka::KafkaConfig& cfg, const Input& in,
                     const TopicNames& topics, int64_t* start_us,
                     const std::function<bool()>& warm_up) {
  kafka::KafkaConfig pcfg = cfg;
  pcfg.SetDefault("linger.ms", "1");
  pcfg.SetDefault("client.id", "tallywire-bench-producer");
  TW_ASSIGN_OR_RETURN(auto producer, kafka::Producer::Create(pcfg));
  for (const Input::Definition& d : in.definitions) {
    TW_RETURN_IF_ERROR(producer->Produce({.topic = topics.tallies,
                                          .partition = RacePartition(d.race_id, o.partitions),
                                          .key = d.race_id,
                                          .value = d.bytes}));
  }
  TW_RETURN_IF_ERROR(producer->Flush(absl::Seconds(30)));
  // Posts go by key: without the topic's metadata in hand, the first second
  // of them would wait for it and show up as latency of the pipeline.
  if (in.posts > 0)
    TW_RETURN_IF_ERROR(producer->PartitionCount(topics.posts, absl::Seconds(30)).status());
  if (!warm_up()) return absl::DeadlineExceededError("consumers never read the race definitions");
  const int64_t start = NowUnixUs();
  *start_us = start;
  int64_t last_progress = start;
  for (size_t i = 0; i < in.events.size(); ++i) {
    int64_t sent = NowUnixUs();
    if (o.rate > 0) {
      // Ahead of schedule: sleep, then send whatever fell due meanwhile in
      // one burst. Spinning to hit every due time (as this loop did below
      // 200 us ahead) took CPU the consumers and the broker need on 2
      // cores: `--raw --rate 60000 --mix 0:1 --events 900000` on a real
      // broker used 18.7 and 17.8 CPU s per million events spinning, 11.2
      // and 11.1 sleeping. Latency still counts from `due`, so a late
      // wake-up shows up as latency.
      const int64_t due = start + static_cast<int64_t>(i * 1e6 / o.rate);
      if (due > sent) std::this_thread::sleep_for(std::chrono::microseconds(due - sent));
      sent = due;
    }
    const Input::Event& e = in.events[i];
    TW_RETURN_IF_ERROR(producer->Produce({.topic = e.post ? topics.posts : topics.tallies,
                                          .partition = e.partition,
                                          .key = e.key,
                                          .value = e.bytes,
                                          .headers = {{kSentAtHeader, absl::StrCat(sent)}}}));
    if ((i & 1023) == 0) {
      producer->Poll(absl::ZeroDuration());
      if (o.progress && sent - last_progress >= 5'000'000) {
        std::fprintf(stderr, "bench: %zu of %zu events sent\n", i, in.events.size());
        last_progress = sent;
      }
    }
  }
  TW_RETURN_IF_ERROR(producer->Flush(absl::Seconds(120)));
  if (producer->failed() > 0) {
    return absl::UnavailableError(absl::StrCat(producer->failed(), " deliveries failed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<EndToEndResult> RunRaw(const EndToEndOptions& o, const kafka::KafkaConfig& cfg,
                                      const Input& in, const TopicNames& topics) {
  const uint64_t expected = in.events.size() + in.definitions.size();
  std::atomic<uint64_t> seen{0};
  std::atomic<int64_t> last_us{0};
  std::atomic<bool> stop{false};
  LatencyHistogram latency;
  std::vector<std::unique_ptr<kafka::Consumer>> consumers;
  for (int t = 0; t < o.threads; ++t) {
    kafka::KafkaConfig c = cfg;
    c.Set("group.id", "raw-" + topics.tallies);
    // As the aggregator's consumers: the ceiling differs only in the work.
    c.SetDefault("partition.assignment.strategy", kafka::SafeAssignmentStrategy());
    TW_ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Create(c));
    TW_RETURN_IF_ERROR(in.posts > 0 ? consumer->Subscribe({topics.tallies, topics.posts})
                                    : consumer->Subscribe({topics.tallies}));
    consumers.push_back(std::move(consumer));
  }
  std::vector<std::thread> threads;
  for (auto& consumer : consumers) {
    threads.emplace_back([&, c = consumer.get()] {
      pthread_setname_np(pthread_self(), "tw-raw");  // per-thread CPU, beside tw-worker-N
      while (!stop.load(std::memory_order_relaxed)) {
        kafka::MessagePtr m = c->Poll(absl::Milliseconds(50));
        if (!m || m->err) continue;
        int64_t sent = 0;
        if (absl::SimpleAtoi(kafka::HeaderValue(*m, kSentAtHeader), &sent)) {
          latency.Record(NowUnixUs() - sent);
        }
        last_us.store(NowUnixUs(), std::memory_order_relaxed);
        seen.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  // Produce only once the group has assigned every partition: the embedded
  // broker keeps a bounded log, and an absent consumer would lose the head.
  const bool formed = WaitForProgress(
      [&] {
        int assigned = 0;
        for (auto& c : consumers) {
          rd_kafka_topic_partition_list_t* a = nullptr;
          if (rd_kafka_assignment(c->handle(), &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a != nullptr) {
            assigned += a->cnt;
            rd_kafka_topic_partition_list_destroy(a);
          }
        }
        return assigned == o.partitions * (in.posts > 0 ? 2 : 1) ? 1 : 0;
      },
      1, kGroupForming);
  const double cpu0 = CpuSeconds();
  int64_t start_us = 0;
  absl::Status produced =
      formed ? Produce(o, cfg, in, topics, &start_us,
                       [&] {
                         return WaitForProgress([&] { return seen.load(); }, in.definitions.size());
                       })
             : absl::DeadlineExceededError(
                   "the raw consumers' group was not assigned every partition");
  if (produced.ok()) WaitForProgress([&] { return seen.load(); }, expected);
  stop = true;
  for (auto& t : threads) t.join();
  for (auto& c : consumers) (void)c->Close();
  TW_RETURN_IF_ERROR(produced);
  EndToEndResult r;
  r.mode = "raw";
  r.events = static_cast<int64_t>(in.events.size());
  r.seconds = (last_us.load() - start_us) / 1e6;
  r.events_per_second = r.seconds > 0 ? r.events / r.seconds : 0;
  r.produce_to_applied = Of(latency);
  r.cpu_seconds_per_million = (CpuSeconds() - cpu0) * 1e6 / std::max<int64_t>(1, r.events);
  r.verified = seen.load() == expected;
  r.checked = "every event received";
  return r;
}

absl::StatusOr<EndToEndResult> RunTallywire(const EndToEndOptions& o, const kafka::KafkaConfig& cfg,
                                            const Input& in, const TopicNames& topics) {
  const uint64_t expected = in.events.size() + in.definitions.size();
  ServiceOptions sopts;
  sopts.kafka = cfg;
  sopts.topics = topics;
  sopts.threads = o.threads;
  sopts.group_id = "tallywire-" + topics.tallies;
  sopts.social.enabled = in.posts > 0;  // a tallies-only input: as raw and the peer
  sopts.embedded_broker = o.kafka.Get("bootstrap.servers").empty();
  sopts.processing = o.processing;
  TW_ASSIGN_OR_RETURN(auto svc, AggregatorService::Start(sopts));
  const ServiceProbe& probe = svc->probe();
  const auto consumed = [&] {
    return probe.consumed(SourceTopic::kTallies) + probe.consumed(SourceTopic::kPosts);
  };
  // Measure the pipeline, not the group forming: wait until every tallies
  // partition (posts ones come in the same assignment) is owned and every
  // worker caught up.
  if (!WaitForProgress(
          [&] { return svc->ready() && svc->assigned_partitions() == o.partitions ? 1 : 0; }, 1,
          kGroupForming)) {
    (void)svc->Stop();
    return absl::DeadlineExceededError("the aggregator's group was not assigned every partition");
  }
  const double cpu0 = CpuSeconds();
  int64_t start_us = 0;
  absl::Status produced = Produce(o, cfg, in, topics, &start_us, [&] {
    // A post counts against the races defined when it arrives.
    return WaitForProgress([&] { return probe.consumed(SourceTopic::kTallies); },
                           in.definitions.size()) &&
           (in.posts == 0 ||
            WaitForProgress([&] { return svc->mention_catalog().slots().size(); }, in.candidates));
  });
  int64_t end_us = 0;
  if (produced.ok() && WaitForProgress(consumed, expected)) end_us = NowUnixUs();
  // Verify the answer before reporting a speed.
  bool verified = end_us > 0;
  for (const ExpectedRace& e : ExpectedTotals(in.feed)) {
    auto race = svc->races().Find(e.race_id);
    verified = verified && race && race->Snapshot().votes == e.votes;
  }
  if (in.posts > 0) {
    // The windows publish on their own tick: wait for the last posts to show.
    WaitForProgress([&] { return static_cast<uint64_t>(svc->mentions().posts); },
                    static_cast<uint64_t>(in.posts));
    const MentionsView v = svc->mentions();
    const MentionCatalog& catalog = svc->mention_catalog();
    std::map<std::pair<std::string, std::string>, int64_t> mentions;
    for (size_t s = 0; s < catalog.slots().size() && s < v.mentions.size(); ++s) {
      if (v.mentions[s] > 0) {
        mentions[{catalog.slots()[s].race_id, catalog.slots()[s].candidate_id}] = v.mentions[s];
      }
    }
    verified = verified && v.posts == in.posts && v.duplicates == 0 && mentions == in.mentions;
  }
  const absl::Status stopped = svc->Stop();
  TW_RETURN_IF_ERROR(produced);
  TW_RETURN_IF_ERROR(stopped);
  EndToEndResult r;
  r.mode = "tallywire";
  r.events = static_cast<int64_t>(in.events.size());
  r.seconds = ((end_us > 0 ? end_us : NowUnixUs()) - start_us) / 1e6;
  r.events_per_second = r.seconds > 0 ? r.events / r.seconds : 0;
  r.produce_to_applied = Of(probe.produce_to_applied_us());
  r.produce_to_alert = Of(probe.produce_to_alert_us());
  r.alerts = static_cast<int64_t>(probe.alerts_total());
  r.crossings =
      static_cast<int64_t>(probe.alerts(static_cast<int>(wire::AlertKind::ThresholdCrossedUp)) +
                           probe.alerts(static_cast<int>(wire::AlertKind::ThresholdCrossedDown)));
  r.cpu_seconds_per_million = (CpuSeconds() - cpu0) * 1e6 / std::max<int64_t>(1, r.events);
  r.verified = verified;
  r.checked = in.posts > 0
                  ? "final totals = generator's, posts and mentions by candidate = the input's"
                  : "final totals = generator's";
  return r;
}

// The peer's progress record (bench/peers/kafka-streams, TallyProcessor):
// one task's cumulative counts, latency histogram and race totals.
struct PeerProgress {
  int64_t processed = 0, definitions = 0, applied = 0, stale = 0, rejected = 0, last_us = 0,
          alerts_up = 0, alerts_down = 0;
  std::vector<std::pair<int64_t, int64_t>> latency_us;  // bucket upper edge, count
  std::map<std::string, std::vector<int64_t>> races;    // race id -> candidate totals
};

absl::StatusOr<PeerProgress> ParsePeerProgress(absl::string_view text) {
  PeerProgress p;
  const std::map<absl::string_view, int64_t*> counters = {
      {"processed", &p.processed}, {"definitions", &p.definitions}, {"applied", &p.applied},
      {"stale", &p.stale},         {"rejected", &p.rejected},       {"last_us", &p.last_us},
      {"alerts_up", &p.alerts_up}, {"alerts_down", &p.alerts_down}};
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.empty()) continue;
    bool ok = true;
    if (auto it = counters.find(f[0]); it != counters.end()) {
      ok = f.size() == 2 && absl::SimpleAtoi(f[1], it->second);
    } else if (f[0] == "latency_us") {
      for (size_t i = 1; i < f.size() && ok; ++i) {
        std::pair<absl::string_view, absl::string_view> ec = absl::StrSplit(f[i], ':');
        int64_t edge = 0, count = 0;
        ok = absl::SimpleAtoi(ec.first, &edge) && absl::SimpleAtoi(ec.second, &count);
        p.latency_us.emplace_back(edge, count);
      }
    } else if (f[0] == "race" && f.size() >= 2) {
      std::vector<int64_t>& votes = p.races[std::string(f[1])];
      for (size_t i = 2; i < f.size() && ok; ++i) {
        int64_t v = 0;
        ok = absl::SimpleAtoi(f[i], &v);
        votes.push_back(v);
      }
    }
    if (!ok) return absl::DataLossError(absl::StrCat("peer progress: bad line \"", line, "\""));
  }
  return p;
}

// Reads the peer's output topic from the beginning: alerts (latency from the
// forwarded send-time header to their arrival here) and progress records
// (the latest of each task).
class PeerOutputReader {
 public:
  static absl::StatusOr<std::unique_ptr<PeerOutputReader>> Start(kafka::KafkaConfig cfg,
                                                                 const std::string& topic,
                                                                 int partitions) {
    cfg.Set("group.id", "reader-" + topic);  // required by librdkafka; never joined
    TW_ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Create(cfg));
    TW_RETURN_IF_ERROR(consumer->Assign(topic, partitions, RD_KAFKA_OFFSET_BEGINNING));
    std::unique_ptr<PeerOutputReader> r(new PeerOutputReader());
    r->consumer_ = std::move(consumer);
    r->thread_ = std::thread([p = r.get()] { p->Loop(); });
    return r;
  }
  ~PeerOutputReader() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (consumer_) (void)consumer_->Close();
  }
  // Sum over tasks of one counter of the latest progress records.
  int64_t Sum(int64_t PeerProgress::*field) const {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t sum = 0;
    for (const auto& [task, p] : tasks_) sum += p.*field;
    return sum;
  }
  std::map<std::string, PeerProgress> tasks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return tasks_;
  }
  absl::Status error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  const LatencyHistogram& alert_latency_us() const { return alert_latency_us_; }
  int64_t alerts() const { return alerts_.load(); }

 private:
  PeerOutputReader() = default;
  void Loop() {
    while (!stop_.load(std::memory_order_relaxed)) {
      kafka::MessagePtr m = consumer_->Poll(absl::Milliseconds(50));
      if (!m || m->err) continue;
      const absl::string_view kind = kafka::HeaderValue(*m, "tallywire.kind");
      if (kind == "alert") {
        int64_t sent = 0;
        if (absl::SimpleAtoi(kafka::HeaderValue(*m, kSentAtHeader), &sent)) {
          alert_latency_us_.Record(NowUnixUs() - sent);
        }
        alerts_.fetch_add(1);
      } else if (kind == "progress") {
        const absl::string_view key(static_cast<const char*>(m->key), m->key_len);
        absl::StatusOr<PeerProgress> p =
            ParsePeerProgress(absl::string_view(static_cast<const char*>(m->payload), m->len));
        std::lock_guard<std::mutex> lock(mu_);
        if (p.ok()) {
          tasks_[std::string(key)] = *std::move(p);
        } else {
          error_ = p.status();
        }
      }
    }
  }

  std::unique_ptr<kafka::Consumer> consumer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> alerts_{0};
  LatencyHistogram alert_latency_us_;
  mutable std::mutex mu_;
  std::map<std::string, PeerProgress> tasks_;
  absl::Status error_;
};

// The Kafka Streams peer: builds it (a no-op when warm), starts it, waits
// until its group is running, produces the same input, follows its output
// until it has processed every event, checks its totals, stops it.
absl::StatusOr<EndToEndResult> RunPeer(const EndToEndOptions& o, const kafka::KafkaConfig& cfg,
                                       const Input& in, const TopicNames& topics,
                                       const std::string& run_id) {
  const std::string command =
      o.peer_command.empty() ? std::string(TALLYWIRE_SOURCE_DIR "/bench/peers/kafka-streams/run")
                             : o.peer_command;
  const std::string log_path = absl::StrCat("/tmp/tallywire-peer", run_id, ".log");
  const auto failed = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("kafka-streams peer: ", s.message(),
                                               " (its output: ", log_path, ")"));
  };
  {
    TW_ASSIGN_OR_RETURN(auto build, ChildProcess::Spawn({command, "--build-only"}, log_path));
    absl::StatusOr<int> code = build->Wait(absl::Minutes(10));
    if (!code.ok()) return failed(code.status());
    if (*code != 0) return failed(absl::InternalError(absl::StrCat("build exited ", *code)));
  }
  TW_ASSIGN_OR_RETURN(auto reader, PeerOutputReader::Start(cfg, topics.alerts, o.partitions));
  TW_ASSIGN_OR_RETURN(
      auto peer, ChildProcess::Spawn(
                     {command, "--brokers", cfg.Get("bootstrap.servers"), "--input", topics.tallies,
                      "--output", topics.alerts, "--app-id", absl::StrCat("tallywire-peer", run_id),
                      "--threads", absl::StrCat(o.threads)},
                     log_path));
  if (absl::Status s = peer->WaitForLine("tallywire-peer: running", absl::Minutes(3)); !s.ok()) {
    return failed(s);
  }
  const uint64_t expected = in.events.size() + in.definitions.size();
  const auto processed = [&] {
    return static_cast<uint64_t>(reader->Sum(&PeerProgress::processed));
  };
  const double cpu0 = CpuSeconds() + peer->CpuSeconds();
  int64_t start_us = 0;
  absl::Status produced = Produce(o, cfg, in, topics, &start_us, [&] {
    return WaitForProgress(
        [&] { return static_cast<uint64_t>(reader->Sum(&PeerProgress::definitions)); },
        in.definitions.size());
  });
  const bool done = produced.ok() && WaitForProgress(processed, expected);
  // Alerts of the last events may still be on their way to the reader.
  WaitForProgress([&] { return static_cast<uint64_t>(reader->alerts()); },
                  static_cast<uint64_t>(reader->Sum(&PeerProgress::alerts_up) +
                                        reader->Sum(&PeerProgress::alerts_down)));
  const double cpu = CpuSeconds() + peer->CpuSeconds() - cpu0;
  const double rss = peer->PeakRssMb();
  absl::StatusOr<int> code = peer->Terminate(absl::Seconds(30));
  reader->Stop();
  TW_RETURN_IF_ERROR(produced);
  if (!code.ok()) return failed(code.status());
  TW_RETURN_IF_ERROR(reader->error());

  EndToEndResult r;
  r.mode = "kafka-streams";
  r.events = static_cast<int64_t>(in.events.size());
  LatencyHistogram applied;
  int64_t last_us = 0;
  std::map<std::string, std::vector<int64_t>> totals;
  for (const auto& [task, p] : reader->tasks()) {
    last_us = std::max(last_us, p.last_us);
    for (const auto& [edge, count] : p.latency_us) {
      for (int64_t i = 0; i < count; ++i) applied.Record(edge);
    }
    for (const auto& [race, votes] : p.races) totals[race] = votes;
  }
  r.seconds = ((done ? last_us : NowUnixUs()) - start_us) / 1e6;
  r.events_per_second = r.seconds > 0 ? r.events / r.seconds : 0;
  r.produce_to_applied = Of(applied);
  r.produce_to_alert = Of(reader->alert_latency_us());
  r.alerts = reader->alerts();
  r.crossings = reader->Sum(&PeerProgress::alerts_up) + reader->Sum(&PeerProgress::alerts_down);
  r.cpu_seconds_per_million = cpu * 1e6 / std::max<int64_t>(1, r.events);
  r.peak_rss_mb = rss;
  // Every tally of the generator is well formed: the peer must reject none.
  bool verified = done && r.alerts == r.crossings && reader->Sum(&PeerProgress::rejected) == 0;
  for (const ExpectedRace& e : ExpectedTotals(in.feed)) {
    auto it = totals.find(e.race_id);
    verified = verified && it != totals.end() && it->second == e.votes;
  }
  r.verified = verified;
  r.checked = "final totals = generator's, nothing rejected, every alert received";
  if (verified) std::remove(log_path.c_str());
  return r;
}

}  // namespace

absl::StatusOr<std::vector<EndToEndResult>> RunEndToEnd(const EndToEndOptions& o) {
  kafka::KafkaConfig cfg = o.kafka;
  std::unique_ptr<kafka::EmbeddedBroker> broker;
  if (!o.peer.empty() && o.peer != "kafka-streams") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown peer \"", o.peer, "\" (kafka-streams)"));
  }
  if (o.mix.tallies < 0 || o.mix.posts < 0 || o.mix.tallies + o.mix.posts == 0) {
    return absl::InvalidArgumentError("the event mix needs tallies or posts (e.g. 1:0, 1:4, 0:1)");
  }
  if (!o.peer.empty() && o.mix.posts > 0) {
    return absl::InvalidArgumentError(
        "the kafka-streams peer computes race totals only: run it on tallies (--mix 1:0)");
  }
  if (!o.peer.empty() && cfg.Get("bootstrap.servers").empty()) {
    return absl::InvalidArgumentError(
        "the kafka-streams peer needs a real broker (--brokers; deploy/kafka/start)");
  }
  const std::string run = absl::StrCat("-bench-", getpid(), "-", NowUnixMs());
  const auto names = [&](const std::string& mode) {
    return TopicNames{.tallies = "tallies-" + mode + run,
                      .posts = "posts-" + mode + run,
                      .alerts = "alerts-" + mode + run,
                      .dlq = "dlq-" + mode + run,
                      .races = "races-" + mode + run,
                      .repartition = "repartition-" + mode + run,
                      .changelog = "changelog-" + mode + run};
  };
  const TopicNames raw_topics = names("raw"), tw_topics = names("tw"), peer_topics = names("peer"),
                   warm_topics = names("warm");
  // A real broker starts each run cold (JIT, page cache, new topics): an
  // unmeasured raw pass on topics of its own warms it, so the first mode
  // measured does not pay for what the next one gets free.
  const bool warm_up = !cfg.Get("bootstrap.servers").empty() && (o.run_raw || o.run_tallywire);
  std::vector<kafka::TopicSpec> specs = DefaultTopics({.partitions = o.partitions}, raw_topics);
  for (auto& s : DefaultTopics({.partitions = o.partitions}, tw_topics)) specs.push_back(s);
  if (warm_up) {
    for (auto& s : DefaultTopics({.partitions = o.partitions}, warm_topics)) specs.push_back(s);
  }
  if (!o.peer.empty()) {
    for (auto& s : DefaultTopics({.partitions = o.partitions}, peer_topics)) specs.push_back(s);
  }
  if (cfg.Get("bootstrap.servers").empty()) {
    TW_ASSIGN_OR_RETURN(broker, kafka::EmbeddedBroker::Start({.topics = specs}));
    cfg.Set("bootstrap.servers", broker->bootstrap());
    kafka::EmbeddedBroker::TuneClient(&cfg);
  } else {
    TW_RETURN_IF_ERROR(kafka::CreateTopics(cfg, specs, absl::Seconds(30)));
  }
  const Input in = MakeInput(o);
  if (warm_up) {
    Input warm;
    warm.definitions = in.definitions;
    warm.posts = in.posts;
    warm.events.assign(in.events.begin(),
                       in.events.begin() + std::min<size_t>(in.events.size(), 50'000));
    EndToEndOptions quiet = o;
    quiet.progress = false;
    TW_RETURN_IF_ERROR(RunRaw(quiet, cfg, warm, warm_topics).status());
  }
  std::vector<EndToEndResult> results;
  // Each mode's own peak of this process (input, producer, consumers and,
  // embedded, the broker); the peer's JVM is measured on its own.
  if (o.run_raw) {
    ResetPeakRss();
    TW_ASSIGN_OR_RETURN(EndToEndResult r, RunRaw(o, cfg, in, raw_topics));
    r.peak_rss_mb = PeakRssMb();
    results.push_back(r);
  }
  if (o.run_tallywire) {
    ResetPeakRss();
    TW_ASSIGN_OR_RETURN(EndToEndResult r, RunTallywire(o, cfg, in, tw_topics));
    r.peak_rss_mb = PeakRssMb();
    results.push_back(r);
  }
  if (!o.peer.empty()) {
    TW_ASSIGN_OR_RETURN(EndToEndResult r, RunPeer(o, cfg, in, peer_topics, run));
    // Same input, same rule: the peer must fire exactly tallywire's 50 %
    // crossings.
    for (const auto& t : results) {
      if (t.mode != "tallywire") continue;
      r.verified = r.verified && r.crossings == t.crossings;
      absl::StrAppend(&r.checked, ", 50 % alerts = tallywire's");
    }
    results.push_back(r);
  }
  return results;
}

std::string FormatReport(const EndToEndOptions& o, const std::vector<EndToEndResult>& results) {
  std::string out = absl::StrFormat(
      "events %d (mix tallies:posts %d:%d), partitions %d, consumer threads %d, offered rate %s, "
      "shape %d races x %d precincts x %d candidates\n",
      o.events, o.mix.tallies, o.mix.posts, o.partitions, o.threads,
      o.rate > 0 ? absl::StrCat(o.rate, "/s") : "flat out", o.shape.races, o.shape.precincts,
      o.shape.candidates);
  absl::StrAppend(&out,
                  absl::StrFormat("%-14s %12s %9s %9s %9s %9s %9s %12s %7s %10s %9s %s\n", "mode",
                                  "events/s", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us",
                                  "alert p99 us", "50% al", "cpu s/M", "rss MB", "verified"));
  const EndToEndResult* raw = nullptr;
  const EndToEndResult* tw = nullptr;
  const EndToEndResult* peer = nullptr;
  for (const auto& r : results) {
    if (r.mode == "raw") raw = &r;
    if (r.mode == "tallywire") tw = &r;
    if (r.mode == "kafka-streams") peer = &r;
    absl::StrAppend(
        &out, absl::StrFormat(
                  "%-14s %12.0f %9d %9d %9d %9d %9d %12s %7s %10.2f %9.1f %s\n", r.mode,
                  r.events_per_second, r.produce_to_applied.p50, r.produce_to_applied.p90,
                  r.produce_to_applied.p99, r.produce_to_applied.p999, r.produce_to_applied.max,
                  r.mode == "raw" || r.alerts == 0 ? "-" : absl::StrCat(r.produce_to_alert.p99),
                  r.crossings < 0 ? "-" : absl::StrCat(r.crossings), r.cpu_seconds_per_million,
                  r.peak_rss_mb, r.verified ? "yes" : "NO"));
  }
  if (tw != nullptr && raw != nullptr && raw->events_per_second > 0) {
    absl::StrAppend(&out, absl::StrFormat("tallywire / raw throughput: %.2f (same run)\n",
                                          tw->events_per_second / raw->events_per_second));
  }
  if (tw != nullptr && peer != nullptr && peer->events_per_second > 0) {
    absl::StrAppend(&out, absl::StrFormat("tallywire / kafka-streams throughput: %.2f (same run)\n",
                                          tw->events_per_second / peer->events_per_second));
  }
  if (tw != nullptr && peer != nullptr && peer->produce_to_applied.p99 > 0) {
    absl::StrAppend(
        &out, absl::StrFormat(
                  "tallywire / kafka-streams p99 produce->applied: %.3f, "
                  "p99 produce->alert: %s (same run)\n",
                  static_cast<double>(tw->produce_to_applied.p99) /
                      static_cast<double>(peer->produce_to_applied.p99),
                  peer->produce_to_alert.p99 > 0
                      ? absl::StrFormat("%.3f", static_cast<double>(tw->produce_to_alert.p99) /
                                                    static_cast<double>(peer->produce_to_alert.p99))
                      : "-"));
  }
  for (const auto& r : results) {
    absl::StrAppend(&out, "checked ", r.mode, ": ", r.checked, "\n");
  }
  return out;
}

std::string ReportJson(const EndToEndOptions& o, const std::vector<EndToEndResult>& results) {
  std::string out = absl::StrFormat(
      "{\"events\":%d,\"mix\":\"%d:%d\",\"partitions\":%d,\"threads\":%d,"
      "\"rate\":%g,\"results\":[",
      o.events, o.mix.tallies, o.mix.posts, o.partitions, o.threads, o.rate);
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    auto pct = [](const Percentiles& p) {
      return absl::StrFormat("{\"p50\":%d,\"p90\":%d,\"p99\":%d,\"p999\":%d,\"max\":%d}", p.p50,
                             p.p90, p.p99, p.p999, p.max);
    };
    absl::StrAppend(&out, i ? "," : "",
                    absl::StrFormat("{\"mode\":\"%s\",\"events\":%d,\"seconds\":%.3f,"
                                    "\"events_per_second\":%.1f,\"produce_to_applied_us\":%s,"
                                    "\"produce_to_alert_us\":%s,\"alerts\":%d,\"crossings\":%d,"
                                    "\"cpu_seconds_per_million\":%.3f,\"peak_rss_mb\":%.1f,"
                                    "\"verified\":%s,\"checked\":\"%s\"}",
                                    JsonEscape(r.mode), r.events, r.seconds, r.events_per_second,
                                    pct(r.produce_to_applied), pct(r.produce_to_alert), r.alerts,
                                    r.crossings, r.cpu_seconds_per_million, r.peak_rss_mb,
                                    r.verified ? "true" : "false", JsonEscape(r.checked)));
  }
  return out + "]}";
}

}  // namespace tallywire
