#include "cli/commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/flags.h"
#include "consumers/alerts/follow.h"
#include "consumers/service/service.h"
#include "core/kafka/embedded_broker.h"
#include "core/log.h"
#include "core/topics.h"
#include "producers/publish.h"
#include "producers/social/posts.h"
#include "producers/tally/openelections_csv.h"
#include "producers/tally/synthetic_night.h"

namespace tallywire::cli {

std::atomic<bool> g_stop{false};

namespace {

// Flag ranges: past these a number is a typo, not a plan.
constexpr int64_t kMaxPartitions = 10'000;
constexpr int64_t kMaxReplicas = 100;
constexpr int64_t kMaxThreads = 256;
constexpr int64_t kMaxRepeat = 1'000'000;
constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

void CommonLogFlags(Command* cmd) {
  cmd->flags.push_back({"log-json", "", "structured logs as JSON lines"});
  cmd->flags.push_back({"quiet", "", "log errors only"});
}
void ApplyLogFlags(const Args& args) {
  SetLogJson(args.Has("log-json"));
  if (args.Has("quiet")) SetLogQuiet(true);
}

}  // namespace

// ---- broker -----------------------------------------------------------------

int RunBroker(const std::vector<std::string>& argv) {
  Command cmd{"broker",
              "[flags]",
              "Start the embedded Kafka broker (librdkafka's mock cluster), create the\n"
              "tallies, posts, alerts and dlq topics, print the bootstrap address, and\n"
              "serve until SIGINT/SIGTERM. For demos and tests: the mock keeps a bounded\n"
              "log per partition.",
              {{"partitions", "N", "partitions per topic (default 4)"},
               {"nodes", "N", "mock brokers (default 1)"}},
              /*kafka=*/false};
  int code = 0;
  std::optional<Args> args = ParseCommand(cmd, argv, &code);
  if (!args) return code;
  absl::StatusOr<int64_t> partitions = args->GetInt("partitions", 4, 1, kMaxPartitions);
  absl::StatusOr<int64_t> nodes = args->GetInt("nodes", 1, 1, 64);
  if (!partitions.ok()) return Fail(partitions.status());
  if (!nodes.ok()) return Fail(nodes.status());
  auto broker = kafka::EmbeddedBroker::Start(
      {.brokers = static_cast<int>(*nodes),
       .topics = DefaultTopics({.partitions = static_cast<int>(*partitions)})});
  if (!broker.ok()) return Fail(broker.status());
  std::printf("%s\n", (*broker)->bootstrap().c_str());
  std::fflush(stdout);
  Log(LogLevel::kInfo, "embedded_broker_ready",
      {{"bootstrap", (*broker)->bootstrap()}, {"topics", "tallies,posts,alerts,dlq"}});
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Log(LogLevel::kInfo, "embedded_broker_stopping");
  return 0;
}

// ---- topics -----------------------------------------------------------------

int RunTopics(const std::vector<std::string>& argv) {
  Command cmd{"topics",
              "create|describe [flags]",
              "Create (if missing) or describe tallywire's topics through the Admin API.\n"
              "tallies: compacted, partitioned by race; posts: 1 day; alerts, dlq: 7 days.",
              {{"partitions", "N", "partitions for tallies, posts, alerts (default 4)"},
               {"replication-factor", "N", "replicas per partition (default 1)"},
               {"min-insync-replicas", "N", "min.insync.replicas (default 1)"}},
              /*kafka=*/true,
              /*positional=*/true};
  int code = 0;
  kafka::KafkaConfig cfg;
  std::optional<Args> args = ParseCommand(cmd, argv, &code, &cfg);
  if (!args) return code;
  const std::string action = args->positional().empty() ? "" : args->positional()[0];
  if (action == "create") {
    absl::StatusOr<int64_t> p = args->GetInt("partitions", 4, 1, kMaxPartitions);
    absl::StatusOr<int64_t> rf = args->GetInt("replication-factor", 1, 1, kMaxReplicas);
    absl::StatusOr<int64_t> isr = args->GetInt("min-insync-replicas", 1, 1, kMaxReplicas);
    if (!p.ok() || !rf.ok() || !isr.ok())
      return Fail(!p.ok() ? p.status() : !rf.ok() ? rf.status() : isr.status());
    absl::Status st =
        kafka::CreateTopics(cfg,
                            DefaultTopics({.partitions = static_cast<int>(*p),
                                           .replication_factor = static_cast<int>(*rf),
                                           .min_insync_replicas = static_cast<int>(*isr)}),
                            absl::Seconds(30));
    if (!st.ok()) return Fail(st);
  } else if (action != "describe") {
    return Fail(absl::InvalidArgumentError("topics: expected create or describe"));
  }
  TopicNames names;
  auto desc = kafka::DescribeTopics(cfg,
                                    {names.tallies, names.posts, names.alerts, names.dlq,
                                     names.races, names.repartition, names.changelog},
                                    absl::Seconds(30));
  if (!desc.ok()) return Fail(desc.status());
  bool missing = false;
  for (const auto& d : *desc) {
    std::printf("%-21s partitions=%d replication_factor=%d\n", d.name.c_str(), d.partitions,
                d.replication_factor);
    missing |= d.partitions == 0;
  }
  return missing ? 1 : 0;
}

// ---- produce ----------------------------------------------------------------

namespace {

absl::StatusOr<Feed> SyntheticFeed(const std::string& spec, uint64_t seed) {
  if (spec == "april18") return GenerateApril18Night({.seed = seed});
  if (absl::StartsWith(spec, "scale:")) {
    std::vector<std::string> parts = absl::StrSplit(spec.substr(6), ',');
    ScaleOptions o;
    o.seed = seed;
    int* fields[] = {&o.races, &o.precincts, &o.candidates, &o.versions};
    if (parts.size() < 3 || parts.size() > 4) {
      return absl::InvalidArgumentError("--synthetic scale:RACES,PRECINCTS,CANDIDATES[,VERSIONS]");
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!absl::SimpleAtoi(parts[i], fields[i]) || *fields[i] < 1) {
        return absl::InvalidArgumentError(absl::StrCat("--synthetic: bad number ", parts[i]));
      }
    }
    return GenerateScaleNight(o);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--synthetic: unknown scenario \"", spec, "\" (april18, scale:R,P,K[,V])"));
}

void PrintExpected(const Feed& feed) {
  for (const ExpectedRace& e : ExpectedTotals(feed)) {
    const RaceDefinitionEvent* def = nullptr;
    for (const auto& r : feed.races)
      if (r.race_id == e.race_id) def = &r;
    int64_t total = 0;
    for (int64_t v : e.votes) total += v;
    std::printf("race %s: %lld precincts, ballots cast %lld\n", e.race_id.c_str(),
                static_cast<long long>(e.precincts), static_cast<long long>(e.ballots_cast));
    for (size_t c = 0; c < e.votes.size(); ++c) {
      std::printf("  %-28s %10lld  %6.2f %%\n", def->candidates[c].name.c_str(),
                  static_cast<long long>(e.votes[c]), total ? 100.0 * e.votes[c] / total : 0.0);
    }
  }
}

// The posts' counterpart of PrintExpected: what a run would publish.
void PrintPostsSummary(const std::function<bool(PostEvent*)>& next) {
  PostEvent p;
  int64_t posts = 0, replies = 0, reposts = 0;
  int64_t first = std::numeric_limits<int64_t>::max(), last = std::numeric_limits<int64_t>::min();
  absl::flat_hash_set<std::string> authors;
  while (!g_stop.load() && next(&p)) {
    ++posts;
    replies += p.is_reply;
    reposts += p.is_repost;
    first = std::min(first, p.created_at_ms);
    last = std::max(last, p.created_at_ms);
    authors.insert(p.author);
  }
  auto when = [](int64_t ms) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
  };
  std::printf("dry run: %lld posts, %zu authors, %lld replies, %lld reposts",
              static_cast<long long>(posts), authors.size(), static_cast<long long>(replies),
              static_cast<long long>(reposts));
  if (posts > 0) std::printf(", created_at %s .. %s", when(first).c_str(), when(last).c_str());
  std::printf("; nothing published\n");
}

}  // namespace

int ProducePosts(const Args& args, const kafka::KafkaConfig& cfg) {
  std::vector<std::string> files = args.All("jsonl");
  const std::vector<std::string> pos = args.positional();
  files.insert(files.end(), pos.begin() + 1, pos.end());
  absl::StatusOr<int64_t> seed = args.GetInt("seed", 1, 0, kMaxInt);
  absl::StatusOr<int64_t> repeat = args.GetInt("repeat", 1, 1, kMaxRepeat);
  absl::StatusOr<int64_t> count = args.GetInt("count", 0, 0, kMaxInt);
  absl::StatusOr<double> rate = args.GetDouble("rate", 0);
  absl::StatusOr<double> minutes = args.GetDouble("duration", 30);
  absl::StatusOr<double> per_second = args.GetDouble("per-second", 200);
  for (const absl::Status& st : {seed.status(), repeat.status(), count.status(), rate.status(),
                                 minutes.status(), per_second.status()}) {
    if (!st.ok()) return Fail(st);
  }
  if (args.Has("synthetic") == !files.empty()) {
    return Fail(
        absl::InvalidArgumentError("produce posts: give either --jsonl FILE... or --synthetic"));
  }
  std::vector<PostEvent> replay;
  std::unique_ptr<Firehose> hose;
  std::function<bool(PostEvent*)> next;
  if (args.Has("synthetic")) {
    if (args.Get("synthetic") != "april18") {
      return Fail(absl::InvalidArgumentError("produce posts: --synthetic april18 is the scenario"));
    }
    if (*per_second <= 0) return Fail(absl::InvalidArgumentError("--per-second must be > 0"));
    hose = std::make_unique<Firehose>(FirehoseOptions{.seed = static_cast<uint64_t>(*seed),
                                                      .per_second = *per_second,
                                                      .duration = absl::Seconds(*minutes * 60),
                                                      .count = *count});
    next = hose->AsSource();
  } else {
    const std::string on_error = args.Get("on-error", "abort");
    if (on_error != "abort" && on_error != "skip") {
      return Fail(absl::InvalidArgumentError("--on-error: abort or skip"));
    }
    PostsReport report;
    absl::StatusOr<std::vector<PostEvent>> posts = ReadPostsJsonl(
        files, {.on_error = on_error == "skip" ? OnError::kSkip : OnError::kAbort}, &report);
    for (const std::string& e : report.errors) std::fprintf(stderr, "skipped: %s\n", e.c_str());
    if (!posts.ok()) return Fail(posts.status());
    std::fprintf(stderr, "jsonl: %lld lines, %lld posts, %lld skipped\n",
                 static_cast<long long>(report.lines), static_cast<long long>(report.posts),
                 static_cast<long long>(report.skipped));
    replay = *std::move(posts);
    next = [&replay, i = size_t{0}](PostEvent* p) mutable {
      if (i == replay.size()) return false;
      *p = replay[i++];
      return true;
    };
  }
  if (args.Has("dry-run")) {
    PrintPostsSummary(next);
    return 0;
  }
  PostPublishOptions opts;
  opts.topic = args.Get("topic", "posts");
  opts.repeat = static_cast<int>(*repeat);
  opts.rate = *rate;
  absl::StatusOr<PublishSummary> s = PublishPosts(next, cfg, opts, &g_stop);
  if (!s.ok()) return Fail(s.status());
  std::printf("produced posts: sent %llu, delivered %llu, failed %llu, %.1f s, %.0f msg/s\n",
              static_cast<unsigned long long>(s->sent),
              static_cast<unsigned long long>(s->delivered),
              static_cast<unsigned long long>(s->failed), s->seconds, s->per_second());
  return s->failed > 0 || g_stop.load() ? 1 : 0;
}

int RunProduce(const std::vector<std::string>& argv) {
  Command cmd{"produce",
              "tallies (--csv FILE... | --synthetic SCENARIO) [flags]\n"
              "       tallywire produce posts (--jsonl FILE... | --synthetic april18) [flags]",
              "tallies: publish race definitions and precinct tallies to the tallies topic.\n"
              "All messages of a race go to one partition (FNV-1a of the race id), keyed\n"
              "race_id/precinct_id.\n"
              "posts: publish social posts to the posts topic, keyed by post id and spread\n"
              "over partitions by librdkafka's partitioner.\n"
              "Both: the producer is idempotent with acks=all and the run fails if any\n"
              "delivery fails.",
              {{"csv", "FILE", "OpenElections precinct CSV, repeatable (more files may follow)"},
               {"jsonl", "FILE", "posts, one JSON object a line, repeatable"},
               {"synthetic", "SCENARIO",
                "tallies: april18 | scale:RACES,PRECINCTS,CANDIDATES[,VERSIONS]; "
                "posts: april18 (a GA-06 firehose with one burst)"},
               {"duration", "MINUTES", "posts: event time the firehose covers (default 30)"},
               {"count", "N", "posts: stop after N posts"},
               {"per-second", "N", "posts: base posts per second of event time (default 200)"},
               {"on-error", "abort|skip", "malformed lines: stop (default) or skip and count"},
               {"feed-version", "N", "version of every CSV report (default: file mtime)"},
               {"majority", "PCT", "majority threshold for CSV races (default 50)"},
               {"shuffle", "", "send tallies in random order"},
               {"seed", "S", "seed for --shuffle and synthetic nights (default 1)"},
               {"repeat", "N", "send every tally N times (default 1)"},
               {"rate", "EVENTS/S", "offered rate (default: as fast as possible)"},
               {"speedup", "X", "replay event time X times faster"},
               {"topic", "NAME", "topic (default tallies, or posts)"},
               {"races-topic", "NAME", "tallies: topic of the race definitions (default races)"},
               {"dry-run", "",
                "read the input and print what would be sent (tallies: the expected final "
                "totals; posts: counts and time range); no Kafka"}},
              /*kafka=*/true,
              /*positional=*/true};
  CommonLogFlags(&cmd);
  int code = 0;
  kafka::KafkaConfig cfg;
  std::optional<Args> args = ParseCommand(cmd, argv, &code, &cfg);
  if (!args) return code;
  ApplyLogFlags(*args);
  std::vector<std::string> pos = args->positional();
  if (!pos.empty() && pos[0] == "posts") return ProducePosts(*args, cfg);
  if (pos.empty() || pos[0] != "tallies") {
    return Fail(absl::InvalidArgumentError("produce: expected `tallies` or `posts` (see --help)"));
  }
  std::vector<std::string> files = args->All("csv");
  files.insert(files.end(), pos.begin() + 1, pos.end());
  absl::StatusOr<int64_t> seed = args->GetInt("seed", 1, 0, kMaxInt);
  absl::StatusOr<int64_t> repeat = args->GetInt("repeat", 1, 1, kMaxRepeat);
  absl::StatusOr<int64_t> version = args->GetInt("feed-version", 0, 0, kMaxInt);
  absl::StatusOr<double> rate = args->GetDouble("rate", 0);
  absl::StatusOr<double> speedup = args->GetDouble("speedup", 0);
  for (const absl::Status& st :
       {seed.status(), repeat.status(), version.status(), rate.status(), speedup.status()}) {
    if (!st.ok()) return Fail(st);
  }
  absl::StatusOr<Feed> feed;
  if (args->Has("synthetic") == !files.empty()) {
    return Fail(
        absl::InvalidArgumentError("produce tallies: give either --csv FILE... or --synthetic"));
  }
  if (args->Has("synthetic")) {
    feed = SyntheticFeed(args->Get("synthetic"), static_cast<uint64_t>(*seed));
  } else {
    CsvOptions opts;
    const std::string on_error = args->Get("on-error", "abort");
    if (on_error != "abort" && on_error != "skip") {
      return Fail(absl::InvalidArgumentError("--on-error: abort or skip"));
    }
    opts.on_error = on_error == "skip" ? OnError::kSkip : OnError::kAbort;
    opts.version = static_cast<uint64_t>(*version);
    if (args->Has("majority")) {
      absl::StatusOr<int32_t> bp = ParsePercentBp(args->Get("majority"));
      if (!bp.ok()) return Fail(bp.status());
      opts.majority_threshold_bp = *bp;
    }
    CsvReport report;
    feed = ReadOpenElectionsCsv(files, opts, &report);
    for (const std::string& note : report.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
    std::fprintf(stderr,
                 "csv: %lld rows, %lld skipped, %lld summary rows, %lld non-candidate rows\n",
                 static_cast<long long>(report.rows), static_cast<long long>(report.rows_skipped),
                 static_cast<long long>(report.summary_rows),
                 static_cast<long long>(report.non_candidate_rows));
  }
  if (!feed.ok()) return Fail(feed.status());
  if (args->Has("dry-run")) {
    PrintExpected(*feed);
    return 0;
  }
  PublishOptions opts;
  opts.topics.tallies = args->Get("topic", "tallies");
  opts.topics.races = args->Get("races-topic", opts.topics.races);
  opts.shuffle = args->Has("shuffle");
  opts.seed = static_cast<uint64_t>(*seed);
  opts.repeat = static_cast<int>(*repeat);
  opts.rate = *rate;
  opts.speedup = *speedup;
  absl::StatusOr<PublishSummary> s = PublishFeed(*feed, cfg, opts, &g_stop);
  if (!s.ok()) return Fail(s.status());
  std::printf("produced: races %zu, sent %llu, delivered %llu, failed %llu, %.1f s, %.0f msg/s\n",
              feed->races.size(), static_cast<unsigned long long>(s->sent),
              static_cast<unsigned long long>(s->delivered),
              static_cast<unsigned long long>(s->failed), s->seconds, s->per_second());
  return s->failed > 0 || g_stop.load() ? 1 : 0;
}

// ---- aggregate --------------------------------------------------------------

int RunAggregate(const std::vector<std::string>& argv) {
  Command cmd{
      "aggregate",
      "[flags]",
      "Run the aggregator: consume tallies, keep per-race, candidate and county\n"
      "totals; consume posts, keep sliding windows of mentions, posts and hashtags;\n"
      "fire alerts (thresholds, leader changes, bursts) to the alerts topic,\n"
      "dead-letter bad input. Runs until SIGINT/SIGTERM, then drains, delivers\n"
      "alerts, commits and leaves the group.",
      {{"group", "ID", "consumer group (default tallywire-aggregator)"},
       {"threads", "N", "consumer threads, each a group member (default 1)"},
       {"http", "HOST:PORT", "serve /races, /mentions, /metrics, /healthz, /readyz"},
       {"rules", "FILE", "alert rules file (see consumers/alerts/rules.h)"},
       {"window", "MINUTES", "momentum window in event time (default 30)"},
       {"tallies-topic", "NAME", "input topic (default tallies)"},
       {"posts-topic", "NAME", "posts input topic (default posts)"},
       {"no-posts", "", "do not consume posts"},
       {"mention-terms", "FILE", "extra terms per candidate: `candidate-id: term, term`"},
       {"grace", "SECONDS", "posts: lateness accepted into the windows (default 30)"},
       {"burst-factor", "K", "burst when last-minute mentions >= K x baseline (default 3)"},
       {"burst-min", "N", "and at least N mentions in the last minute (default 20)"},
       {"alerts-topic", "NAME", "alerts topic (default alerts)"},
       {"dlq-topic", "NAME", "dead-letter topic (default dlq)"},
       {"races-topic", "NAME", "race definitions topic (default races)"},
       {"changelog-topic", "NAME",
        "state changelog, written only by the aggregator "
        "(default tallywire-changelog)"},
       {"repartition-topic", "NAME",
        "tallies forwarded to their race's home partition "
        "(default tallywire-repartition)"},
       {"processing", "MODE",
        "exactly-once (default: state, alerts, dead letters and input "
        "offsets in one transaction) or at-least-once"},
       {"instance-id", "ID",
        "stable name of this process across restarts: transactional ids "
        "and static group membership (default: host name and pid)"},
       {"exit-when-idle", "SECONDS", "stop after this long with no new events (tests, batch)"}}};
  CommonLogFlags(&cmd);
  int code = 0;
  ServiceOptions opts;
  std::optional<Args> args = ParseCommand(cmd, argv, &code, &opts.kafka);
  if (!args) return code;
  ApplyLogFlags(*args);
  absl::StatusOr<int64_t> threads = args->GetInt("threads", 1, 1, kMaxThreads);
  absl::StatusOr<double> window = args->GetDouble("window", 30);
  absl::StatusOr<double> idle = args->GetDouble("exit-when-idle", 0);
  absl::StatusOr<double> grace = args->GetDouble("grace", 30);
  absl::StatusOr<double> factor = args->GetDouble("burst-factor", opts.social.burst.factor);
  absl::StatusOr<int64_t> burst_min =
      args->GetInt("burst-min", opts.social.burst.min_mentions, 1, kMaxInt);
  for (const absl::Status& st : {threads.status(), window.status(), idle.status(), grace.status(),
                                 factor.status(), burst_min.status()}) {
    if (!st.ok()) return Fail(st);
  }
  opts.threads = static_cast<int>(*threads);
  opts.group_id = args->Get("group", opts.group_id);
  opts.http_listen = args->Get("http");
  opts.topics.tallies = args->Get("tallies-topic", opts.topics.tallies);
  opts.topics.alerts = args->Get("alerts-topic", opts.topics.alerts);
  opts.topics.dlq = args->Get("dlq-topic", opts.topics.dlq);
  opts.topics.posts = args->Get("posts-topic", opts.topics.posts);
  opts.topics.races = args->Get("races-topic", opts.topics.races);
  opts.topics.changelog = args->Get("changelog-topic", opts.topics.changelog);
  opts.topics.repartition = args->Get("repartition-topic", opts.topics.repartition);
  opts.instance_id = args->Get("instance-id");
  if (const std::string mode = args->Get("processing", "exactly-once"); mode == "at-least-once") {
    opts.processing = Processing::kAtLeastOnce;
  } else if (mode != "exactly-once") {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--processing: expected exactly-once or at-least-once, got ", mode)));
  }
  opts.social.enabled = !args->Has("no-posts");
  opts.social.windows.grace = absl::Seconds(*grace);
  opts.social.burst.factor = *factor;
  opts.social.burst.min_mentions = *burst_min;
  if (args->Has("mention-terms")) {
    absl::StatusOr<ExtraTerms> terms = LoadExtraTerms(args->Get("mention-terms"));
    if (!terms.ok()) return Fail(terms.status());
    opts.social.extra_terms = *std::move(terms);
  }
  opts.race.window = absl::Seconds(*window * 60);
  if (args->Has("rules")) {
    absl::StatusOr<AlertRules> rules = AlertRules::FromFile(args->Get("rules"));
    if (!rules.ok()) return Fail(rules.status());
    opts.rules = *rules;
  }
  auto svc = AggregatorService::Start(opts);
  if (!svc.ok()) return Fail(svc.status());
  const ServiceProbe& probe = (*svc)->probe();
  auto line = [&] {
    return absl::StrCat("consumed ", probe.consumed(SourceTopic::kTallies), " applied ",
                        probe.applied(SourceTopic::kTallies), " stale ", probe.stale(), " posts ",
                        probe.applied(SourceTopic::kPosts), " alerts ", probe.alerts_total(),
                        " dead-lettered ", probe.dead_lettered(), " lag ", probe.total_lag());
  };
  auto last_change = std::chrono::steady_clock::now();
  auto last_print = last_change;
  uint64_t last_consumed = 0;
  while (!g_stop.load() && !(*svc)->failed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto now = std::chrono::steady_clock::now();
    const uint64_t consumed =
        probe.consumed(SourceTopic::kTallies) + probe.consumed(SourceTopic::kPosts);
    if (consumed != last_consumed) {
      last_consumed = consumed;
      last_change = now;
    }
    if (now - last_print > std::chrono::seconds(5)) {
      Log(LogLevel::kInfo, "progress", {{"status", line()}});
      last_print = now;
    }
    if (*idle > 0 && (*svc)->ready() &&
        now - last_change > std::chrono::milliseconds(static_cast<int64_t>(*idle * 1000))) {
      break;
    }
  }
  absl::Status st = (*svc)->Stop();
  std::printf("aggregate: %s\n", line().c_str());
  for (const auto& race : (*svc)->races().List()) {
    std::printf("%s\n", RaceSnapshotJson(race->Snapshot()).c_str());
  }
  if (opts.social.enabled && probe.consumed(SourceTopic::kPosts) > 0) {
    std::printf("%s\n", MentionsJson((*svc)->mentions(), (*svc)->mention_catalog(), "").c_str());
  }
  if (!st.ok()) return Fail(st);
  return 0;
}

// ---- alerts -----------------------------------------------------------------

int RunAlerts(const std::vector<std::string>& argv) {
  Command cmd{"alerts",
              "[flags]",
              "Print alerts from the alerts topic, one line each (or JSON).",
              {{"follow", "", "keep waiting for new alerts (default: stop at the end)"},
               {"from-beginning", "", "start at the oldest alert (default: only new ones)"},
               {"json", "", "one JSON object per alert"},
               {"topic", "NAME", "alerts topic (default alerts)"}}};
  int code = 0;
  kafka::KafkaConfig cfg;
  std::optional<Args> args = ParseCommand(cmd, argv, &code, &cfg);
  if (!args) return code;
  const bool json = args->Has("json");
  FollowOptions opts{.topic = args->Get("topic", "alerts"),
                     .from_beginning = args->Has("from-beginning"),
                     .follow = args->Has("follow"),
                     .stop = &g_stop};
  auto summary = FollowAlerts(cfg, opts, [&](const AlertEvent& a) {
    std::printf("%s\n", (json ? AlertJson(a) : FormatAlertLine(a)).c_str());
    std::fflush(stdout);
  });
  if (!summary.ok()) return Fail(summary.status());
  std::fprintf(stderr, "alerts: %llu printed, %llu undecodable\n",
               static_cast<unsigned long long>(summary->alerts),
               static_cast<unsigned long long>(summary->undecodable));
  return 0;
}

}  // namespace tallywire::cli
