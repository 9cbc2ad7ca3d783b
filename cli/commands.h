// The `tallywire` subcommands. Each takes the arguments after its name and
// returns the process exit code; flags -> one call into the layers below.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace tallywire::cli {

// Set by SIGINT/SIGTERM; long-running commands drain and exit when it flips.
extern std::atomic<bool> g_stop;

int RunBroker(const std::vector<std::string>& argv);
int RunTopics(const std::vector<std::string>& argv);
int RunProduce(const std::vector<std::string>& argv);
int RunAggregate(const std::vector<std::string>& argv);
int RunAlerts(const std::vector<std::string>& argv);
int RunDemo(const std::vector<std::string>& argv);
int RunBench(const std::vector<std::string>& argv);

}  // namespace tallywire::cli
