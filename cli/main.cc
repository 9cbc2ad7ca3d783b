// tallywire: election-night stream processing on Kafka.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {

void OnSignal(int) { tallywire::cli::g_stop.store(true); }

constexpr const char* kUsage =
    "usage: tallywire COMMAND [flags]\n"
    "\n"
    "commands:\n"
    "  demo       replay the April 18, 2017 GA-06 night on an embedded broker, live board\n"
    "  broker     run the embedded Kafka broker (librdkafka mock cluster)\n"
    "  topics     create or describe the tallies, posts, alerts and dlq topics\n"
    "  produce    publish precinct tallies (OpenElections CSV or synthetic night)\n"
    "  aggregate  run the aggregator service: rolling race totals and alerts\n"
    "  alerts     print alerts from the alerts topic\n"
    "  bench      end-to-end throughput and latency, against the raw pipe\n"
    "\n"
    "Run `tallywire COMMAND --help` for a command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> rest(argv + 2, argv + argc);
  using namespace tallywire::cli;
  if (cmd == "demo") return RunDemo(rest);
  if (cmd == "broker") return RunBroker(rest);
  if (cmd == "topics") return RunTopics(rest);
  if (cmd == "produce") return RunProduce(rest);
  if (cmd == "aggregate") return RunAggregate(rest);
  if (cmd == "alerts") return RunAlerts(rest);
  if (cmd == "bench") return RunBench(rest);
  std::fprintf(stderr, "tallywire: unknown command \"%s\"\n\n%s", cmd.c_str(), kUsage);
  return 2;
}
