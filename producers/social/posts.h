// Post sources and their publisher: a JSONL replay, a synthetic firehose,
// and PublishPosts, which sends either to the posts topic.
//
//   PostsReport report;
//   TW_ASSIGN_OR_RETURN(std::vector<PostEvent> posts,
//                       ReadPostsJsonl({"posts.jsonl"}, {}, &report));
//   Firehose hose({.seed = 7, .duration = absl::Minutes(30)});
//   TW_ASSIGN_OR_RETURN(PublishSummary s, PublishPosts(hose.AsSource(), cfg, {}));
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/codec.h"
#include "core/kafka/config.h"
#include "producers/publish.h"
#include "producers/tally/openelections_csv.h"

namespace tallywire {

// ---- JSONL ------------------------------------------------------------------
// One JSON object a line. Required: author, created_at (RFC 3339 text, or
// Unix milliseconds as an integer), text. Optional: id (string or integer;
// when absent, a stable hash of author, created_at and text, so a replay
// dedupes), lang, reply/is_reply, repost/is_repost, county, and likes,
// reposts, replies (integers in [0, kMaxCount]) either top level or inside
// "counts". Other fields, at any depth, are ignored. created_at must lie
// between 1970 and max_future past the reader's clock (default a day: clock
// skew, not a lie). The line must be valid JSON and UTF-8 (simdjson's DOM
// parser checks both, and every number). A bad line is
// `FILE:LINE: what is wrong`.
struct PostsJsonlOptions {
  OnError on_error = OnError::kAbort;
  absl::Duration max_future = absl::Hours(24);
};

struct PostsReport {
  int64_t lines = 0, posts = 0, skipped = 0;
  std::vector<std::string> errors;  // the skipped lines' messages, first 20
};

absl::StatusOr<std::vector<PostEvent>> ReadPostsJsonl(const std::vector<std::string>& paths,
                                                      const PostsJsonlOptions& options,
                                                      PostsReport* report);
// One line, for tests and for readers of other sources; the first checks
// created_at against absl::Now() and the default bound.
absl::StatusOr<PostEvent> ParsePostJson(absl::string_view line);
absl::StatusOr<PostEvent> ParsePostJson(absl::string_view line, const PostsJsonlOptions& options,
                                        absl::Time now);

// ---- synthetic firehose -----------------------------------------------------
// Election-night chatter about one race: candidates by full name, surname,
// handle and hashtag, in five languages, with replies, reposts, engagement
// counts, posts about nothing, a few posts late by minutes, and bursts
// (a famous account posts and is reposted en masse). Seeded: the same
// options give the same posts.
struct FirehoseBurst {
  absl::Duration at;  // from the start, in event time
  absl::Duration length;
  int candidate = 0;      // index into candidates
  double per_second = 0;  // extra posts per second of event time
};

struct FirehoseOptions {
  uint64_t seed = 1;
  double per_second = 200;  // base posts per second of event time
  absl::Duration duration = absl::Minutes(30);
  int64_t count = 0;                      // stop after this many posts (0: by duration)
  int64_t start_ms = 1492556400000;       // 2017-04-18T23:00:00Z, polls closed in Georgia
  std::vector<CandidateInfo> candidates;  // empty: the GA-06 April 18 field
  std::vector<double> weights;            // how much each is talked about; empty: by rank
  std::vector<FirehoseBurst> bursts = {
      {absl::Minutes(12), absl::Minutes(3), 0, 400}};  // default: one, at 12 min
  double late_fraction = 0.002;                        // minutes late
  absl::Duration jitter = absl::Seconds(3);            // reordering
};

class Firehose {
 public:
  explicit Firehose(FirehoseOptions options);
  bool Next(PostEvent* post);  // false when done
  std::function<bool(PostEvent*)> AsSource() {
    return [this](PostEvent* p) { return Next(p); };
  }
  const std::vector<CandidateInfo>& candidates() const { return options_.candidates; }

 private:
  std::string Text(int candidate, int other, const std::string& lang);

  FirehoseOptions options_;
  std::mt19937_64 rng_;
  std::discrete_distribution<int> pick_;
  int64_t emitted_ = 0;
  double clock_ms_ = 0;  // event time since start
};

// GA-06's 18 candidates (the race definition the synthetic night publishes).
std::vector<CandidateInfo> Ga06AprilCandidates();

// ---- publish ----------------------------------------------------------------
struct PostPublishOptions {
  std::string topic = "posts";
  int repeat = 1;        // send every post N times in a row (redelivery)
  double rate = 0;       // posts per second; 0: as fast as the broker takes them
  bool progress = true;  // a progress line on stderr when it is a terminal
  std::function<void(const PostEvent&)> on_sent;
};

// Keyed by post id; librdkafka's partitioner spreads the keys.
absl::StatusOr<PublishSummary> PublishPosts(const std::function<bool(PostEvent*)>& next,
                                            const kafka::KafkaConfig& cfg,
                                            const PostPublishOptions& options,
                                            const std::atomic<bool>* stop = nullptr);

}  // namespace tallywire
