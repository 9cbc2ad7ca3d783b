// Micro benchmarks of the hot path, one core. Each checks the answer it
// computed before it reports a speed.
//
//   build/release/bench/tallywire_micro --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)
#include <atomic>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "consumers/alerts/detect.h"
#include "consumers/social/catalog.h"
#include "consumers/social/windows.h"
#include "consumers/tally/decode.h"
#include "consumers/tally/race.h"
#include "core/log.h"
#include "producers/social/posts.h"
#include "producers/tally/synthetic_night.h"

namespace tallywire {
namespace {

const Feed& April18() {
  static const Feed* feed = new Feed(GenerateApril18Night({}));
  return *feed;
}

// decode + verify + resolve of an 18-candidate tally.
void BM_DecodeVerifyTally(benchmark::State& state) {
  const Feed& feed = April18();
  auto model = *RaceModel::FromEvent(feed.races[0]);
  RaceState race(model);
  std::vector<std::string> msgs;
  for (const auto& t : feed.tallies) msgs.push_back(EncodeTally(t));
  size_t i = 0, ok = 0;
  for (auto _ : state) {
    auto d = DecodeTallyFor(AsBytes(msgs[i]), [&](absl::string_view) { return &race; });
    ok += d.ok();
    benchmark::DoNotOptimize(d);
    if (++i == msgs.size()) i = 0;
  }
  if (ok != static_cast<size_t>(state.iterations())) state.SkipWithError("decode failed");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeVerifyTally);

void BM_DecodeVerifyPost(benchmark::State& state) {
  const std::string msg = EncodePost({"1", "realDonaldTrump", 1492511400000,
                                      "Republicans must get out today and VOTE in Georgia 6. Force "
                                      "runoff and easy win! Dem Ossoff will raise your taxes",
                                      "en", false, false, 100, 20, 5, ""});
  size_t ok = 0;
  for (auto _ : state) {
    auto p = DecodePost(AsBytes(msg));
    ok += p.ok();
    benchmark::DoNotOptimize(p);
  }
  if (ok != static_cast<size_t>(state.iterations())) state.SkipWithError("decode failed");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeVerifyPost);

// Apply to a race of 208 precincts and 18 candidates; versions random, so a
// share of the updates is stale and changes nothing.
struct ApplyInput {
  std::vector<std::vector<int64_t>> votes;
  std::vector<TallyUpdate> updates;
};
ApplyInput MakeUpdates(size_t precincts, size_t k, size_t n) {
  ApplyInput in;
  std::mt19937_64 rng(7);
  in.votes.resize(n, std::vector<int64_t>(k));
  for (size_t i = 0; i < n; ++i) {
    for (auto& v : in.votes[i]) v = static_cast<int64_t>(rng() % 2000);
    // Mostly newer reports; one in five re-sends an older version (stale).
    const uint64_t version = i % 5 == 4 ? (i > 64 ? i - 64 : 0) : i + 1;
    in.updates.push_back({.precinct = {static_cast<uint32_t>(rng() % precincts)},
                          .version = version,
                          .event_time_ms = static_cast<int64_t>(i) * 1000,
                          .votes = in.votes[i],
                          .ballots_cast = -1,
                          .complete = (rng() & 1) != 0});
  }
  return in;
}

// Arg: applies per Publish(). The worker publishes once per batch of up to
// 256 messages (consumers/service/worker.cc), so /256 is a busy worker and
// /1 one that sees a tally at a time.
void BM_ApplyTally(benchmark::State& state) {
  const Feed& feed = April18();
  auto model = *RaceModel::FromEvent(feed.races[0]);
  // 1,024 updates (150 KB of votes), replayed with rising versions: in the
  // service a tally's votes are read from the message just decoded, in
  // cache; 65,536 (9 MB) measured DRAM streaming of this input instead.
  const ApplyInput in = MakeUpdates(model->precincts.size(), model->candidate_count(), 1 << 10);
  const auto batch = static_cast<size_t>(state.range(0));
  RaceState race(model);
  size_t i = 0, applied = 0, in_batch = 0;
  uint64_t pass = 0;
  for (auto _ : state) {
    TallyUpdate u = in.updates[i];
    u.version += pass * in.updates.size();  // each pass is newer than the last,
    u.event_time_ms += static_cast<int64_t>(pass * in.updates.size()) * 1000;  // and later
    applied += race.Apply(u) == RaceState::Applied::kApplied;
    if (++in_batch == batch) {
      race.Publish();
      in_batch = 0;
    }
    if (++i == in.updates.size()) {
      i = 0;
      ++pass;
    }
  }
  race.Publish();
  const RaceSnapshot s = race.Snapshot();
  int64_t sum = 0;
  for (int64_t v : s.votes) sum += v;
  if (sum != s.total_votes || applied == 0 || s.applied != static_cast<int64_t>(applied)) {
    state.SkipWithError("inconsistent totals");
  }
  state.counters["applied_fraction"] = static_cast<double>(applied) / state.iterations();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApplyTally)->Arg(1)->Arg(256);

void BM_DetectPerAppliedTally(benchmark::State& state) {
  const Feed& feed = April18();
  auto model = *RaceModel::FromEvent(feed.races[0]);
  const ApplyInput in = MakeUpdates(model->precincts.size(), model->candidate_count(), 1 << 16);
  RaceState race(model);
  AlertRules rules;
  RaceDetector detector(rules, *model);
  std::vector<AlertEvent> alerts;
  for (const auto& u : in.updates) race.Apply(u);
  for (auto _ : state) {
    alerts.clear();
    detector.Detect(race, {}, &alerts);
    benchmark::DoNotOptimize(alerts.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DetectPerAppliedTally);

// A reader's snapshot while another thread applies continuously.
void BM_SnapshotWhileWriting(benchmark::State& state) {
  const Feed& feed = April18();
  auto model = *RaceModel::FromEvent(feed.races[0]);
  const ApplyInput in = MakeUpdates(model->precincts.size(), model->candidate_count(), 1 << 14);
  RaceState race(model);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    size_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      race.Apply(in.updates[i]);
      race.Publish();  // the reader's worst case: a publish per apply
      if (++i == in.updates.size()) i = 0;
    }
  });
  size_t torn = 0;
  for (auto _ : state) {
    const RaceSnapshot s = race.Snapshot();
    int64_t sum = 0;
    for (int64_t v : s.votes) sum += v;
    torn += sum != s.total_votes;
  }
  stop = true;
  writer.join();
  if (torn != 0) state.SkipWithError("torn snapshot");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SnapshotWhileWriting)->UseRealTime();

const std::vector<PostEvent>& Posts() {
  static const auto* posts = [] {
    auto* v = new std::vector<PostEvent>;
    Firehose hose({.seed = 9, .count = 4096});
    PostEvent p;
    while (hose.Next(&p)) v->push_back(p);
    return v;
  }();
  return *posts;
}

// Mention matching (18 candidates, ~54 terms) plus hashtag extraction, per
// firehose post (five languages, ~70 bytes).
void BM_MatchPost(benchmark::State& state) {
  const MentionCatalog catalog = MentionCatalog::With({}, April18().races.front(), {});
  const auto& posts = Posts();
  std::vector<int32_t> slots;
  std::vector<std::string> tags;
  std::string scratch;
  int64_t mentions = 0;
  size_t i = 0;
  for (auto _ : state) {
    const PostEvent& p = posts[i++ & 4095];
    catalog.matcher().Match(p.text, &slots, &scratch);
    ExtractHashtags(p.text, &tags);
    mentions += static_cast<int64_t>(slots.size());
  }
  // Three posts in four name somebody; a matcher that finds nothing is broken.
  if (mentions < static_cast<int64_t>(state.iterations() / 2)) state.SkipWithError("no mentions");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchPost);

// One post into the 1/5/15-minute windows (dedupe, buckets, running sums,
// hashtag summary), event time advancing 5 ms a post.
void BM_WindowUpdate(benchmark::State& state) {
  MentionWindows w({});
  const std::vector<int32_t> slots = {0, 3};
  const std::vector<std::string> tags = {"#ga06"};
  uint64_t id = 0;
  for (auto _ : state) {
    ++id;
    w.Add({.id_hash = id * 0x9E3779B97F4A7C15ull,
           .created_at_ms = 1'492'556'400'000 + static_cast<int64_t>(id) * 5,
           .slots = slots,
           .hashtags = tags});
  }
  w.Publish();
  // The 1-minute window holds the posts of the last 12 five-second buckets.
  const int64_t base = 1'492'556'400'000, last = base + static_cast<int64_t>(id) * 5;
  const int64_t from = (last / 5000 - 11) * 5000;  // first ms of the oldest bucket
  const int64_t expect = std::min<int64_t>(id, (last - std::max(from, base + 5)) / 5 + 1);
  if (w.Read().windows[0].posts != expect) state.SkipWithError("window count");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WindowUpdate);

// The JSONL reader, per line: 4096 firehose posts written as an export
// writes them (counts in a nested object, half the times RFC 3339 text,
// half Unix ms), five languages, ~250 bytes a line.
const std::vector<std::string>& PostLines() {
  static const auto* lines = [] {
    auto* v = new std::vector<std::string>;
    for (const PostEvent& p : Posts()) {
      const std::string when =
          v->size() % 2 == 0 ? absl::StrCat("\"",
                                            absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                                                             absl::FromUnixMillis(p.created_at_ms),
                                                             absl::UTCTimeZone()),
                                            "\"")
                             : absl::StrCat(p.created_at_ms);
      v->push_back(absl::StrCat("{\"id\":\"", p.id, "\",\"author\":\"", JsonEscape(p.author),
                                "\",\"created_at\":", when, ",\"text\":\"", JsonEscape(p.text),
                                "\",\"lang\":\"", p.lang,
                                "\",\"reply\":", p.is_reply ? "true" : "false",
                                ",\"repost\":", p.is_repost ? "true" : "false", ",\"county\":\"",
                                p.county, "\",\"counts\":{\"likes\":", p.likes,
                                ",\"reposts\":", p.reposts, ",\"replies\":", p.replies, "}}"));
    }
    return v;
  }();
  return *lines;
}

void BM_ParsePostJson(benchmark::State& state) {
  const auto& lines = PostLines();
  const auto& posts = Posts();
  int64_t bytes = 0, wrong = 0;
  size_t i = 0;
  for (auto _ : state) {
    const size_t k = i++ & 4095;
    absl::StatusOr<PostEvent> p = ParsePostJson(lines[k]);
    // The answer, not just a parse: every field round-trips.
    if (!p.ok() || p->id != posts[k].id || p->created_at_ms != posts[k].created_at_ms ||
        p->text != posts[k].text || p->likes != posts[k].likes ||
        p->is_repost != posts[k].is_repost) {
      ++wrong;
    }
    bytes += static_cast<int64_t>(lines[k].size());
  }
  if (wrong > 0) state.SkipWithError("a post did not round-trip");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_ParsePostJson);

}  // namespace
}  // namespace tallywire

BENCHMARK_MAIN();
