// `tallywire demo`: the April 18, 2017 GA-06 night, replayed through Kafka
// (embedded unless --brokers), aggregated, with a live board and alerts.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "consumers/alerts/follow.h"
#include "consumers/service/service.h"
#include "core/kafka/embedded_broker.h"
#include "core/log.h"
#include "producers/publish.h"
#include "producers/social/posts.h"
#include "producers/tally/synthetic_night.h"

namespace tallywire::cli {
namespace {

std::string Thousands(int64_t v) {
  std::string s = absl::StrCat(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string Board(const RaceSnapshot& s, const std::vector<AlertEvent>& alerts, bool final) {
  const RaceModel& m = *s.model;
  const absl::TimeZone edt = absl::FixedTimeZone(-4 * 3600);
  std::string out = absl::StrCat(
      m.name, final ? "  — final\n" : "\n",
      s.last_event_time_ms
          ? absl::FormatTime("%H:%M EDT", absl::FromUnixMillis(s.last_event_time_ms), edt)
          : "--:-- EDT",
      "   precincts reporting ", s.precincts_reporting, "/", s.precincts_total, " (",
      s.precincts_total ? s.precincts_reporting * 100 / s.precincts_total : 0, " %)   ballots ",
      Thousands(s.ballots_cast), "\n\n");
  std::vector<size_t> order(s.votes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return s.votes[a] > s.votes[b]; });
  constexpr int kBar = 50;  // 0..100 %, the 50 % line at the middle
  int64_t others = 0;
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const size_t c = order[rank];
    if (rank >= 6) {
      others += s.votes[c];
      continue;
    }
    const int32_t bp = s.ShareBp(c);
    const int filled = static_cast<int>(bp * kBar / 10000);
    std::string bar;
    for (int i = 0; i < kBar; ++i) {
      if (i == kBar / 2) bar += "|";
      bar += i < filled ? "#" : (i % 5 == 4 ? "." : " ");
    }
    absl::StrAppend(
        &out, absl::StrFormat("  %-26s %9s %6.2f %%  %s\n",
                              absl::StrCat(m.candidates[c].name, " (", m.candidates[c].party, ")"),
                              Thousands(s.votes[c]), bp / 100.0, bar));
  }
  if (others > 0) {
    absl::StrAppend(
        &out,
        absl::StrFormat("  %-26s %9s %6.2f %%\n", absl::StrCat(order.size() - 6, " others"),
                        Thousands(others), s.total_votes ? 100.0 * others / s.total_votes : 0.0));
  }
  // Prefix "  name(26) votes(9) share %  " is 49 columns wide.
  absl::StrAppend(&out, std::string(49 + kBar / 2, ' '), "^ 50 %\n");
  absl::StrAppend(&out, "\n  momentum (share of votes added in the last 30 min of the night): ");
  for (size_t rank = 0; rank < 3 && rank < order.size(); ++rank) {
    absl::StrAppend(&out, m.candidates[order[rank]].name, " ",
                    absl::StrFormat("%.1f %%", s.WindowShareBp(order[rank]) / 100.0),
                    rank < 2 ? ", " : "\n");
  }
  absl::StrAppend(&out, "\nalerts:\n");
  const size_t first = final || alerts.size() <= 8 ? 0 : alerts.size() - 8;
  for (size_t i = first; i < alerts.size(); ++i) {
    absl::StrAppend(&out, "  ",
                    absl::FormatTime("%H:%M", absl::FromUnixMillis(alerts[i].event_time_ms), edt),
                    "  ", alerts[i].message, "\n");
  }
  return out;
}

// Per window: the most mentioned candidates and the top hashtags.
std::string MentionsPanel(const MentionsView& v, const MentionCatalog& catalog) {
  if (v.posts == 0) return "";
  std::string out = absl::StrCat("\nposts: ", Thousands(v.posts), " (", Thousands(v.duplicates),
                                 " redelivered, ", Thousands(v.late), " late)\n");
  for (const WindowCounts& w : v.windows) {
    std::vector<std::pair<int64_t, size_t>> top;
    for (size_t s = 0; s < w.mentions.size() && s < catalog.slots().size(); ++s) {
      top.push_back({w.mentions[s], s});
    }
    std::sort(top.rbegin(), top.rend());
    std::string line = absl::StrFormat("  %2d min  %6.0f posts/min  ", w.span_ms / 60000,
                                       w.posts * 60000.0 / std::max<int64_t>(1, w.span_ms));
    for (size_t i = 0; i < 3 && i < top.size(); ++i) {
      absl::StrAppend(&line, i ? ", " : "", catalog.slots()[top[i].second].candidate_name, " ",
                      Thousands(top[i].first));
    }
    absl::StrAppend(&line, "   ");
    for (size_t i = 0; i < 3 && i < w.hashtags.items.size(); ++i) {
      absl::StrAppend(&line, i ? " " : "", w.hashtags.items[i].item);
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace

int RunDemo(const std::vector<std::string>& argv) {
  Command cmd{"demo",
              "[flags]",
              "Replay the April 18, 2017 GA-06 special election night (18 candidates;\n"
              "Ossoff above 50 % early, 48.1 % at the end: a runoff) through Kafka, with a\n"
              "synthetic post firehose beside it, a live race board, the most mentioned\n"
              "candidates and hashtags per window, and the alerts as they fire. Without\n"
              "--brokers it starts the embedded broker, so nothing else is needed.",
              {{"duration", "SECONDS", "replay the 7-hour night in about this long (default 40)"},
               {"seed", "S", "seed of the synthetic night (default 2017)"},
               {"threads", "N", "aggregator threads (default 2)"},
               {"posts-per-second", "N", "firehose posts per second of the night (default 10)"},
               {"no-board", "", "print progress lines instead of redrawing the board"}}};
  int code = 0;
  kafka::KafkaConfig cfg;
  std::optional<Args> parsed = ParseCommand(cmd, argv, &code, &cfg, /*default_brokers=*/"");
  if (!parsed) return code;
  const Args& args = *parsed;
  absl::StatusOr<double> duration = args.GetDouble("duration", 40);
  absl::StatusOr<int64_t> seed = args.GetInt("seed", 2017);
  absl::StatusOr<int64_t> threads = args.GetInt("threads", 2, 1, 256);
  absl::StatusOr<double> posts_per_second = args.GetDouble("posts-per-second", 10);
  for (const absl::Status& st :
       {duration.status(), seed.status(), threads.status(), posts_per_second.status()}) {
    if (!st.ok()) return Fail(st);
  }
  const bool board = !args.Has("no-board") && isatty(STDOUT_FILENO);
  if (board) SetLogQuiet(true);

  std::unique_ptr<kafka::EmbeddedBroker> broker;
  if (!args.Has("brokers")) {
    auto b = kafka::EmbeddedBroker::Start({.topics = DefaultTopics()});
    if (!b.ok()) return Fail(b.status());
    broker = *std::move(b);
    cfg.Set("bootstrap.servers", broker->bootstrap());
    kafka::EmbeddedBroker::TuneClient(&cfg);
    std::fprintf(stderr, "demo: embedded broker at %s\n", broker->bootstrap().c_str());
  } else if (absl::Status st = kafka::CreateTopics(cfg, DefaultTopics(), absl::Seconds(30));
             !st.ok())
    return Fail(st);

  const Feed feed = GenerateApril18Night({.seed = static_cast<uint64_t>(*seed)});
  const int64_t span_ms = feed.tallies.back().event_time_ms - feed.tallies.front().event_time_ms;
  const int64_t demo_start_ms = NowUnixMs();

  ServiceOptions sopts;
  sopts.kafka = cfg;
  sopts.group_id = absl::StrCat("tallywire-demo-", getpid(), "-", demo_start_ms);
  sopts.embedded_broker = broker != nullptr;
  sopts.threads = static_cast<int>(*threads);
  auto svc = AggregatorService::Start(sopts);
  if (!svc.ok()) return Fail(svc.status());

  std::mutex alerts_mu;  // the follower thread appends, the board reads
  std::vector<AlertEvent> alerts;
  std::atomic<bool> stop_follow{false};
  std::thread follower([&] {
    auto s =
        FollowAlerts(cfg, {.from_beginning = true, .follow = true, .stop = &stop_follow},
                     [&](const AlertEvent& a) {
                       if (a.detect_time_ms < demo_start_ms || a.race_id != feed.races[0].race_id)
                         return;
                       std::lock_guard<std::mutex> lock(alerts_mu);
                       alerts.push_back(a);
                     });
    if (!s.ok())
      Log(LogLevel::kError, "demo_alerts", {{"error", std::string(s.status().message())}});
  });

  std::atomic<bool> published{false};
  absl::StatusOr<PublishSummary> summary;
  const double speedup = static_cast<double>(span_ms) / (std::max(1.0, *duration) * 1000.0);
  std::thread producer([&] {
    PublishOptions popts;
    popts.progress = false;
    popts.speedup = speedup;
    summary = PublishFeed(feed, cfg, popts, &g_stop);
    published = true;
  });
  // The firehose covers the same night at the same speed; at 21:30 a famous
  // account's post about Ossoff is reposted en masse for ten minutes.
  std::atomic<bool> posted{*posts_per_second <= 0};
  absl::StatusOr<PublishSummary> posts_summary = PublishSummary{};
  std::thread poster;
  if (*posts_per_second > 0) {
    poster = std::thread([&] {
      Firehose hose(
          {.seed = static_cast<uint64_t>(*seed),
           .per_second = *posts_per_second,
           .duration = absl::Milliseconds(span_ms),
           .start_ms = feed.tallies.front().event_time_ms,
           .candidates = feed.races[0].candidates,
           .bursts = {{absl::Minutes(150), absl::Minutes(10), 0, 6 * *posts_per_second}}});
      posts_summary = PublishPosts(
          hose.AsSource(), cfg, {.rate = *posts_per_second * speedup, .progress = false}, &g_stop);
      posted = true;
    });
  }

  auto snapshot = [&]() -> std::optional<RaceSnapshot> {
    auto race = (*svc)->races().Find(feed.races[0].race_id);
    if (!race) return std::nullopt;
    return race->Snapshot();
  };
  auto alerts_copy = [&] {
    std::lock_guard<std::mutex> lock(alerts_mu);
    return alerts;
  };
  const uint64_t expected = feed.tallies.size() + feed.races.size();
  auto done = [&] {
    return published.load() && posted.load() &&
           (*svc)->probe().consumed_new(SourceTopic::kTallies) >= expected;
  };
  auto mentions = [&] { return MentionsPanel((*svc)->mentions(), (*svc)->mention_catalog()); };
  int64_t last_line = 0;
  while (!g_stop.load() && !done()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    std::optional<RaceSnapshot> s = snapshot();
    if (!s) continue;
    if (board) {
      std::printf("\x1b[H\x1b[2J%s%s", Board(*s, alerts_copy(), false).c_str(), mentions().c_str());
      std::fflush(stdout);
    } else if (NowUnixMs() - last_line > 2000) {
      last_line = NowUnixMs();
      std::printf("demo: %lld/%lld precincts, %s ballots, leader %s %.2f %%\n",
                  static_cast<long long>(s->precincts_reporting),
                  static_cast<long long>(s->precincts_total), Thousands(s->ballots_cast).c_str(),
                  s->model->candidates[0].name.c_str(), s->ShareBp(0) / 100.0);
      std::fflush(stdout);
    }
  }
  producer.join();
  if (poster.joinable()) poster.join();
  // Let the last alerts make it through the alerts topic to the follower.
  size_t seen = alerts_copy().size();
  for (int quiet = 0; quiet < 6 && !g_stop.load();) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const size_t now = alerts_copy().size();
    quiet = now == seen ? quiet + 1 : 0;
    seen = now;
  }
  stop_follow = true;
  follower.join();
  const absl::Status stopped = (*svc)->Stop();
  std::optional<RaceSnapshot> final_state = snapshot();
  if (board) std::printf("\x1b[H\x1b[2J");
  if (final_state) {
    std::printf("%s%s", Board(*final_state, alerts_copy(), true).c_str(), mentions().c_str());
  }
  if (!summary.ok()) return Fail(summary.status());
  if (!posts_summary.ok()) return Fail(posts_summary.status());
  std::printf(
      "\nsummary: %llu tallies and %llu posts produced, %llu and %llu consumed, %llu alerts, "
      "%llu dead-lettered\n",
      static_cast<unsigned long long>(summary->delivered),
      static_cast<unsigned long long>(posts_summary->delivered),
      static_cast<unsigned long long>((*svc)->probe().consumed(SourceTopic::kTallies)),
      static_cast<unsigned long long>((*svc)->probe().consumed(SourceTopic::kPosts)),
      static_cast<unsigned long long>(alerts_copy().size()),
      static_cast<unsigned long long>((*svc)->probe().dead_lettered()));
  if (!stopped.ok()) return 1;
  return g_stop.load() ? 130 : 0;
}

}  // namespace tallywire::cli
