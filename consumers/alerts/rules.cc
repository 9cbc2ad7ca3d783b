#include "consumers/alerts/rules.h"

#include <cmath>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"

namespace tallywire {

absl::StatusOr<int32_t> ParsePercentBp(absl::string_view s) {
  double pct = 0;
  s = absl::StripAsciiWhitespace(s);
  if (absl::ConsumeSuffix(&s, "%")) s = absl::StripAsciiWhitespace(s);
  if (!absl::SimpleAtod(s, &pct) || !(pct >= 0 && pct <= 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a percentage 0..100, got \"", s, "\""));
  }
  return static_cast<int32_t>(std::lround(pct * 100));
}

namespace {
absl::StatusOr<std::vector<int32_t>> ParseList(absl::string_view v) {
  std::vector<int32_t> out;
  for (absl::string_view part : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
    TW_ASSIGN_OR_RETURN(int32_t bp, ParsePercentBp(part));
    out.push_back(bp);
  }
  return out;
}
absl::StatusOr<bool> ParseBool(absl::string_view v) {
  bool b;
  if (!absl::SimpleAtob(absl::StripAsciiWhitespace(v), &b))
    return absl::InvalidArgumentError(absl::StrCat("expected true/false, got \"", v, "\""));
  return b;
}
}  // namespace

absl::Status AlertRules::Set(absl::string_view key, absl::string_view value) {
  key = absl::StripAsciiWhitespace(key);
  if (key == "thresholds") {
    TW_ASSIGN_OR_RETURN(thresholds_bp, ParseList(value));
  } else if (key == "hysteresis") {
    TW_ASSIGN_OR_RETURN(hysteresis_bp, ParsePercentBp(value));
  } else if (key == "min_reporting") {
    TW_ASSIGN_OR_RETURN(min_reporting_bp, ParsePercentBp(value));
  } else if (key == "milestones") {
    TW_ASSIGN_OR_RETURN(milestones_bp, ParseList(value));
  } else if (key == "leader_change") {
    TW_ASSIGN_OR_RETURN(leader_change, ParseBool(value));
  } else if (key == "runoff_certain") {
    TW_ASSIGN_OR_RETURN(runoff_certain, ParseBool(value));
  } else if (key == "winner_certain") {
    TW_ASSIGN_OR_RETURN(winner_certain, ParseBool(value));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown alert rule \"", key, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<AlertRules> AlertRules::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  AlertRules rules;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    absl::string_view s = absl::StripAsciiWhitespace(line);
    if (s.empty() || s[0] == '#') continue;
    size_t eq = s.find('=');
    absl::Status st = eq == absl::string_view::npos
                          ? absl::InvalidArgumentError("expected key = value")
                          : rules.Set(s.substr(0, eq), s.substr(eq + 1));
    if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ":", n, ": ", st.message()));
  }
  return rules;
}

}  // namespace tallywire
