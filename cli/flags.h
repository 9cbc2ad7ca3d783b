// Flags for the `tallywire` subcommands: a declared set per command, so
// `--help` is generated and an unknown flag or a missing value is an error.
//
//   Command cmd{"aggregate", "[flags]", "Run the aggregator service", {
//       {"threads", "N", "consumer threads (default 1)"}}};
//   TW_ASSIGN_OR_RETURN(Args args, ParseArgs(cmd, argv_after_command));
//   TW_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", 1, 1, 256));
//
// Strict: long flags take two dashes (`-threads` is an error, not a
// positional argument), -X and -h are the only short ones, a command takes
// positional arguments only when it says so, and numbers are checked.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/kafka/config.h"

namespace tallywire::cli {

struct Flag {
  std::string name;        // long name without dashes; "X" for -X
  std::string value_name;  // empty: a boolean switch
  std::string help;
};

struct Command {
  std::string name, usage, summary;
  std::vector<Flag> flags;
  bool kafka = true;        // adds --brokers, -X, --kafka-config, --print-config
  bool positional = false;  // takes positional arguments (its usage names them)
};

class Args {
 public:
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> All(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t fallback) const;
  // The value, or the fallback, must lie in [min, max]; an error names the flag and the range.
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t fallback, int64_t min,
                                 int64_t max) const;
  // Finite numbers only: "nan" and "inf" are errors.
  absl::StatusOr<double> GetDouble(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }

 private:
  friend absl::StatusOr<Args> ParseArgs(const Command&, const std::vector<std::string>&);
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

absl::StatusOr<Args> ParseArgs(const Command& cmd, const std::vector<std::string>& argv);
std::string HelpText(const Command& cmd);

// Prints "tallywire: <message>" and returns the exit code: 2 for usage
// errors (invalid argument), 1 for everything else.
int Fail(const absl::Status& st);

// ParseArgs plus what every command does with it: --help, and (when cfg is
// given) the Kafka configuration and --print-config. nullopt means "exit
// now with *code".
std::optional<Args> ParseCommand(const Command& cmd, const std::vector<std::string>& argv,
                                 int* code, kafka::KafkaConfig* cfg = nullptr,
                                 const std::string& default_brokers = "127.0.0.1:9092");

// Kafka settings in one place, in order: defaults, --kafka-config FILE,
// --brokers, then every -X key=value.
absl::StatusOr<kafka::KafkaConfig> KafkaConfigFromArgs(const Args& args,
                                                       const std::string& default_brokers);

}  // namespace tallywire::cli
