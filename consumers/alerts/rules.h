// AlertRules: which threshold events the detector fires, with defaults and a
// `key = value` config file.
//
//   TW_ASSIGN_OR_RETURN(AlertRules rules, AlertRules::FromFile("alerts.conf"));
//
// File keys (percent values in points, e.g. 50 or 0.25):
//   thresholds = 50            share thresholds, comma-separated
//   hysteresis = 0.25          band around each threshold, both directions
//   min_reporting = 1          % of precincts reporting before share alerts
//   milestones = 25,50,75,100  % of precincts reporting
//   leader_change = true
//   runoff_certain = true
//   winner_certain = true
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tallywire {

struct AlertRules {
  std::vector<int32_t> thresholds_bp = {5000};
  int32_t hysteresis_bp = 25;
  int32_t min_reporting_bp = 100;
  std::vector<int32_t> milestones_bp = {2500, 5000, 7500, 10000};
  bool leader_change = true;
  bool runoff_certain = true;
  bool winner_certain = true;

  static absl::StatusOr<AlertRules> FromFile(const std::string& path);
  // One "key = value" setting, as in the file.
  absl::Status Set(absl::string_view key, absl::string_view value);
};

// "50", "49.5", "0.25" -> basis points; error on anything else.
absl::StatusOr<int32_t> ParsePercentBp(absl::string_view s);

}  // namespace tallywire
