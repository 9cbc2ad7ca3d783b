// Reasons: a short machine-readable label riding on an absl::Status, so the
// stage that rejects an event names why, and the stage that dead-letters it
// counts by that label without parsing messages.
//
//   return WithReason("unknown_race", absl::NotFoundError("race x-1 not defined"));
//   metrics.dead_lettered(ReasonOf(status));   // "unknown_race"
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace tallywire {

inline constexpr absl::string_view kReasonPayloadUrl = "tallywire/reason";

inline absl::Status WithReason(absl::string_view reason, absl::Status status) {
  status.SetPayload(kReasonPayloadUrl, absl::Cord(reason));
  return status;
}

inline bool HasReason(const absl::Status& status) {
  return status.GetPayload(kReasonPayloadUrl).has_value();
}

// "invalid" when the status carries no reason.
inline std::string ReasonOf(const absl::Status& status) {
  if (auto p = status.GetPayload(kReasonPayloadUrl)) return std::string(*p);
  return "invalid";
}

}  // namespace tallywire
