// `tallywire bench`: end-to-end throughput and latency, tallywire against the
// raw Kafka pipe beneath it, measured in one run.
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/e2e/e2e.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "core/log.h"

namespace tallywire::cli {

int RunBench(const std::vector<std::string>& argv) {
  Command cmd{
      "bench",
      "[flags]",
      "Drive the producer at an offered rate (open loop) or flat out through a broker\n"
      "(embedded unless --brokers), through the aggregator with alerts on, and\n"
      "through a consumer that only counts (the raw ceiling). Prints events/s,\n"
      "produce->applied and produce->alert latency percentiles, CPU per million\n"
      "events, peak RSS, and the tallywire/raw ratio from the same run.\n"
      "--peer kafka-streams (needs --brokers) also runs the Kafka Streams\n"
      "application in bench/peers/kafka-streams on the same input, checks its\n"
      "totals and 50 % alerts, and prints the tallywire/peer ratios.\n"
      "Batching is librdkafka's, for every client of the run: e.g. -X linger.ms=5\n"
      "-X batch.num.messages=10000 (the bench's producer defaults to linger.ms=1).",
      {{"events", "N", "timed events per mode, tallies and posts (default 200000)"},
       {"duration", "S", "run for S seconds at the offered rate (--rate): --events = rate x S"},
       {"mix", "T:P",
        "event mix, tallies to posts (default 1:0; 1:4 is four posts a tally; posts "
        "are the synthetic GA-06 firehose, matched, windowed and checked)"},
       {"rate", "EVENTS/S",
        "offered rate, open loop (default: flat out with --brokers, "
        "50000 embedded)"},
       {"partitions", "N", "tallies partitions (default 4)"},
       {"threads", "N", "consumer threads in both modes (default 2)"},
       {"races", "N", "races in the synthetic input (default 8)"},
       {"precincts", "N", "precincts per race (default 2500)"},
       {"candidates", "N", "candidates per race (default 5)"},
       {"raw", "", "run only the raw pipe"},
       {"no-raw", "", "run only tallywire"},
       {"peer", "NAME", "also run a peer on the same input: kafka-streams"},
       {"peer-command", "PATH",
        "the peer's run script (default: bench/peers/kafka-streams/run of the source "
        "tree this binary was built from)"},
       {"processing", "MODE",
        "tallywire's guarantee: exactly-once (default; transactions, real broker only) or "
        "at-least-once"},
       {"json", "", "print the report as JSON"},
       {"verbose", "", "keep the services' logs"}}};
  int code = 0;
  kafka::KafkaConfig cfg;
  std::optional<Args> args = ParseCommand(cmd, argv, &code, &cfg, /*default_brokers=*/"");
  if (!args) return code;
  EndToEndOptions o;
  o.kafka = cfg;
  struct IntFlag {
    const char* name;
    int64_t* out;
  };
  int64_t partitions = o.partitions, threads = o.threads, races = o.shape.races,
          precincts = o.shape.precincts, candidates = o.shape.candidates;
  for (IntFlag f : {IntFlag{"events", &o.events},
                    {"partitions", &partitions},
                    {"threads", &threads},
                    {"races", &races},
                    {"precincts", &precincts},
                    {"candidates", &candidates}}) {
    absl::StatusOr<int64_t> v = args->GetInt(f.name, *f.out);
    if (!v.ok()) return Fail(v.status());
    if (*v < 1)
      return Fail(absl::InvalidArgumentError(absl::StrCat("--", f.name, " must be >= 1")));
    *f.out = *v;
  }
  absl::StatusOr<double> rate = args->GetDouble("rate", 0);
  if (!rate.ok()) return Fail(rate.status());
  o.rate = *rate;
  if (o.rate < 0) return Fail(absl::InvalidArgumentError("--rate must be >= 0"));
  if (!args->Has("rate") && !args->Has("brokers")) {
    // The embedded broker keeps a bounded log and one thread: flat out, the
    // producer outruns the consumers and the log drops what they have not
    // read. Flat out is for a real broker.
    o.rate = 50000;
    std::fprintf(stderr,
                 "bench: embedded broker, offered rate 50000/s (flat out needs --brokers)\n");
  }
  if (args->Has("duration")) {
    // The input is generated before the clock starts, so a duration is an
    // event count at the offered rate.
    absl::StatusOr<double> seconds = args->GetDouble("duration", 0);
    if (!seconds.ok()) return Fail(seconds.status());
    if (*seconds <= 0 || o.rate <= 0 || args->Has("events")) {
      return Fail(absl::InvalidArgumentError(
          "--duration S needs an offered rate (--rate) and no --events; flat out, give --events"));
    }
    o.events = std::max<int64_t>(1, static_cast<int64_t>(*seconds * o.rate));
  }
  o.partitions = static_cast<int>(partitions);
  o.threads = static_cast<int>(threads);
  if (const std::string mode = args->Get("processing", "exactly-once"); mode == "at-least-once") {
    o.processing = Processing::kAtLeastOnce;
  } else if (mode != "exactly-once") {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--processing: expected exactly-once or at-least-once, got ", mode)));
  }
  o.shape.races = static_cast<int>(races);
  o.shape.precincts = static_cast<int>(precincts);
  o.shape.candidates = static_cast<int>(candidates);
  if (args->Has("mix")) {
    std::pair<std::string, std::string> tp = absl::StrSplit(args->Get("mix"), ':');
    // Only the syntax here: RunEndToEnd says which mixes it can measure.
    if (!absl::SimpleAtoi(tp.first, &o.mix.tallies) || !absl::SimpleAtoi(tp.second, &o.mix.posts)) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "--mix \"", args->Get("mix"), "\": want TALLIES:POSTS, e.g. 1:0, 1:4, 0:1")));
    }
  }
  o.progress = true;
  o.run_raw = !args->Has("no-raw");
  o.run_tallywire = !args->Has("raw");
  o.peer = args->Get("peer");
  o.peer_command = args->Get("peer-command");
  SetLogQuiet(!args->Has("verbose"));
  auto results = RunEndToEnd(o);
  if (!results.ok()) return Fail(results.status());
  std::fputs(
      (args->Has("json") ? ReportJson(o, *results) + "\n" : FormatReport(o, *results)).c_str(),
      stdout);
  for (const auto& r : *results) {
    if (!r.verified) return 1;
  }
  return 0;
}

}  // namespace tallywire::cli
