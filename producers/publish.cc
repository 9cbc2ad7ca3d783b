#include "producers/publish.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/clock.h"
#include "core/kafka/client.h"
#include "core/log.h"
#include "core/status_macros.h"

namespace tallywire {

void PrintPublishProgress(const PublishSummary& summary, const kafka::Producer& producer,
                          int64_t start_ns, bool final) {
  const double secs = (MonotonicNs() - start_ns) / 1e9;
  std::fprintf(stderr, "\rproduce: sent %llu delivered %llu failed %llu  %.0f/s%s",
               static_cast<unsigned long long>(summary.sent),
               static_cast<unsigned long long>(producer.delivered()),
               static_cast<unsigned long long>(producer.failed()),
               secs > 0 ? producer.delivered() / secs : 0.0, final ? "\n" : "   ");
}

absl::StatusOr<PublishSummary> FinishPublish(PublishSummary summary, kafka::Producer& producer,
                                             int64_t start_ns, bool tty) {
  absl::Status flushed = producer.Flush(absl::Seconds(60));
  // Definitions were flushed before the events: the rest are the events'.
  summary.delivered = producer.delivered() - std::min(producer.delivered(), summary.definitions);
  summary.failed = producer.failed();
  summary.seconds = (MonotonicNs() - start_ns) / 1e9;
  if (tty) PrintPublishProgress(summary, producer, start_ns, true);
  TW_RETURN_IF_ERROR(flushed);
  if (summary.failed > 0) {
    return absl::UnavailableError(
        absl::StrCat(summary.failed, " of ", summary.sent, " messages failed delivery"));
  }
  return summary;
}

absl::StatusOr<PublishSummary> PublishFeed(const Feed& feed, const kafka::KafkaConfig& cfg,
                                           const PublishOptions& options,
                                           const std::atomic<bool>* stop) {
  kafka::KafkaConfig pcfg = cfg;
  pcfg.SetDefault("client.id", "tallywire-produce-tallies");
  TW_ASSIGN_OR_RETURN(auto producer, kafka::Producer::Create(pcfg));
  TW_ASSIGN_OR_RETURN(const int partitions,
                      producer->PartitionCount(options.topics.tallies, absl::Seconds(30)));

  std::vector<const TallyEvent*> order;
  order.reserve(feed.tallies.size() * std::max(1, options.repeat));
  for (int r = 0; r < std::max(1, options.repeat); ++r) {
    for (const TallyEvent& t : feed.tallies) order.push_back(&t);
  }
  if (options.shuffle) {
    std::mt19937_64 rng(options.seed);
    std::shuffle(order.begin(), order.end(), rng);
  }

  PublishSummary summary;
  const int64_t start = MonotonicNs();
  const bool tty = options.progress && isatty(STDERR_FILENO);
  int64_t last_progress = 0;

  for (const RaceDefinitionEvent& r : feed.races) {
    const std::string bytes = EncodeRaceDefinition(r);
    TW_RETURN_IF_ERROR(
        producer->Produce({.topic = options.topics.races, .key = r.race_id, .value = bytes}));
    ++summary.definitions;
  }
  // Definitions before tallies, across topics: once they are in the log, an
  // owner that finds a tally's race unknown knows to read the races topic
  // up to the tally's arrival (consumers/state/definitions.h).
  if (!feed.races.empty()) TW_RETURN_IF_ERROR(producer->Flush(absl::Seconds(60)));

  const int64_t first_event = feed.tallies.empty() ? 0 : feed.tallies.front().event_time_ms;
  std::string key;
  for (size_t i = 0; i < order.size(); ++i) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
    const TallyEvent& t = *order[i];
    // Pace: by offered rate, or by event time compressed by the speedup.
    int64_t due_ns = -1;
    if (options.rate > 0) {
      due_ns = start + static_cast<int64_t>(i * 1e9 / options.rate);
    } else if (options.speedup > 0 && !options.shuffle) {
      due_ns =
          start + static_cast<int64_t>((t.event_time_ms - first_event) * 1e6 / options.speedup);
    }
    while (due_ns > 0 && MonotonicNs() < due_ns) {
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
      producer->Poll(absl::ZeroDuration());
      const int64_t wait = std::min<int64_t>(due_ns - MonotonicNs(), 20'000'000);
      if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
    }
    const std::string bytes = EncodeTally(t);
    key = absl::StrCat(t.race_id, "/", t.precinct_id);
    TW_RETURN_IF_ERROR(producer->Produce({.topic = options.topics.tallies,
                                          .partition = RacePartition(t.race_id, partitions),
                                          .key = key,
                                          .value = bytes}));
    ++summary.sent;
    if (options.on_sent) options.on_sent(t);
    if ((i & 255) == 0) producer->Poll(absl::ZeroDuration());
    if (tty && MonotonicNs() - last_progress > 200'000'000) {
      last_progress = MonotonicNs();
      PrintPublishProgress(summary, *producer, start, false);
    }
  }
  return FinishPublish(summary, *producer, start, tty);
}

}  // namespace tallywire
