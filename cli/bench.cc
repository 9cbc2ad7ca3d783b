#include "cli/commands.h"
namespace tallywire::cli {
int RunBench(const std::vector<std::string>& argv) { return 2; }
}  // namespace tallywire::cli
