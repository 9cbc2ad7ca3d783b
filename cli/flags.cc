#include "cli/flags.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace tallywire::cli {
namespace {
std::vector<Flag> AllFlags(const Command& cmd) {
  std::vector<Flag> flags = cmd.flags;
  if (cmd.kafka) {
    flags.push_back({"brokers", "HOST:PORT,...", "Kafka bootstrap servers"});
    flags.push_back({"X", "KEY=VALUE", "librdkafka property, repeatable (as kcat -X)"});
    flags.push_back({"kafka-config", "FILE", "librdkafka properties file (key=value lines)"});
    flags.push_back({"print-config", "", "print the merged Kafka configuration and exit"});
  }
  flags.push_back({"help", "", "show this help"});
  return flags;
}
}  // namespace

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> Args::All(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

absl::StatusOr<int64_t> Args::GetInt(const std::string& name, int64_t fallback) const {
  if (!Has(name)) return fallback;
  int64_t v;
  if (!absl::SimpleAtoi(Get(name), &v)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": not an integer: ", Get(name)));
  }
  return v;
}

absl::StatusOr<int64_t> Args::GetInt(const std::string& name, int64_t fallback, int64_t min,
                                     int64_t max) const {
  absl::StatusOr<int64_t> v = GetInt(name, fallback);
  if (v.ok() && (*v < min || *v > max)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": ", *v, " is out of range ", min, "..", max));
  }
  return v;
}

absl::StatusOr<double> Args::GetDouble(const std::string& name, double fallback) const {
  if (!Has(name)) return fallback;
  double v;
  if (!absl::SimpleAtod(Get(name), &v) || !std::isfinite(v)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": not a number: ", Get(name)));
  }
  return v;
}

absl::StatusOr<Args> ParseArgs(const Command& cmd, const std::vector<std::string>& argv) {
  const std::vector<Flag> flags = AllFlags(cmd);
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    std::string name, value;
    bool has_value = false;
    if (a == "-X") {
      name = "X";
    } else if (absl::StartsWith(a, "-X") && a.size() > 2) {
      name = "X";
      value = a.substr(2);
      has_value = true;
    } else if (a == "-h") {
      name = "help";
    } else if (absl::StartsWith(a, "--")) {
      name = a.substr(2);
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
    } else if (a.size() > 1 && a[0] == '-') {
      // `-threads 4` once ran one thread and exited 0: a single-dash word is
      // a mistake, never a positional argument.
      std::string hint = "see --help";
      const std::string bare =
          a.substr(1, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 1);
      for (const Flag& f : flags)
        if (f.name == bare) hint = absl::StrCat("did you mean --", bare, "?");
      return absl::InvalidArgumentError(absl::StrCat("tallywire ", cmd.name, ": unknown flag ", a,
                                                     " (long flags take two dashes; ", hint, ")"));
    } else {
      if (!cmd.positional) {
        return absl::InvalidArgumentError(
            absl::StrCat("tallywire ", cmd.name, ": unexpected argument \"", a, "\" (see --help)"));
      }
      args.positional_.push_back(a);
      continue;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags)
      if (f.name == name) flag = &f;
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("tallywire ", cmd.name, ": unknown flag ", a, " (see --help)"));
    }
    if (flag->value_name.empty()) {
      if (has_value) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      }
      args.values_[name].push_back("true");
      if (name == "help") args.help_ = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(absl::StrCat("tallywire ", cmd.name, ": ",
                                                       name == "X" ? "-X" : "--" + name,
                                                       " needs a value (", flag->value_name, ")"));
      }
      value = argv[++i];
    }
    args.values_[name].push_back(value);
  }
  return args;
}

std::string HelpText(const Command& cmd) {
  std::string out = absl::StrCat("usage: tallywire ", cmd.name, " ", cmd.usage, "\n\n", cmd.summary,
                                 "\n\nflags:\n");
  for (const Flag& f : AllFlags(cmd)) {
    std::string left = f.name == "X" ? "  -X " : absl::StrCat("  --", f.name);
    if (!f.value_name.empty()) absl::StrAppend(&left, f.name == "X" ? "" : " ", f.value_name);
    if (left.size() < 30) left.resize(30, ' ');
    absl::StrAppend(&out, left, " ", f.help, "\n");
  }
  return out;
}

absl::StatusOr<kafka::KafkaConfig> KafkaConfigFromArgs(const Args& args,
                                                       const std::string& default_brokers) {
  kafka::KafkaConfig cfg;
  if (!default_brokers.empty()) cfg.Set("bootstrap.servers", default_brokers);
  if (args.Has("kafka-config")) TW_RETURN_IF_ERROR(cfg.MergeFile(args.Get("kafka-config")));
  if (args.Has("brokers")) cfg.Set("bootstrap.servers", args.Get("brokers"));
  for (const std::string& kv : args.All("X")) TW_RETURN_IF_ERROR(cfg.SetFromFlag(kv));
  TW_RETURN_IF_ERROR(cfg.ToRdKafka().status());  // validate every key now
  return cfg;
}

int Fail(const absl::Status& st) {
  std::fprintf(stderr, "tallywire: %s\n", std::string(st.message()).c_str());
  return st.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

std::optional<Args> ParseCommand(const Command& cmd, const std::vector<std::string>& argv,
                                 int* code, kafka::KafkaConfig* cfg,
                                 const std::string& default_brokers) {
  absl::StatusOr<Args> args = ParseArgs(cmd, argv);
  if (!args.ok()) {
    *code = Fail(args.status());
    return std::nullopt;
  }
  if (args->help()) {
    std::fputs(HelpText(cmd).c_str(), stdout);
    *code = 0;
    return std::nullopt;
  }
  if (cfg != nullptr) {
    absl::StatusOr<kafka::KafkaConfig> c = KafkaConfigFromArgs(*args, default_brokers);
    if (!c.ok()) {
      *code = Fail(c.status());
      return std::nullopt;
    }
    *cfg = *std::move(c);
    if (args->Has("print-config")) {
      std::fputs(cfg->Printable().c_str(), stdout);
      *code = 0;
      return std::nullopt;
    }
  }
  return *std::move(args);
}

}  // namespace tallywire::cli
