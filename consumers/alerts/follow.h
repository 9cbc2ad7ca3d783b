// FollowAlerts: read Alert messages from the alerts topic, from the
// beginning or from now, until caught up or (with follow) until stopped.
//
//   FollowAlerts(cfg, {.from_beginning = true}, [](const AlertEvent& a) {
//     std::puts(a.message.c_str());
//   });
//
// Subscribers read without a consumer group (manual assignment of every
// partition), so any number of them each see every alert.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "core/codec.h"
#include "core/kafka/config.h"

namespace tallywire {

struct FollowOptions {
  std::string topic = "alerts";
  bool from_beginning = false;
  bool follow = false;  // false: stop at the end of every partition
  const std::atomic<bool>* stop = nullptr;
};

struct FollowSummary {
  uint64_t alerts = 0;
  uint64_t undecodable = 0;
};

absl::StatusOr<FollowSummary> FollowAlerts(const kafka::KafkaConfig& cfg,
                                           const FollowOptions& options,
                                           absl::FunctionRef<void(const AlertEvent&)> on_alert);

// "2017-04-19T02:41:00Z ga-06-2017-04-18 threshold_down Jon Ossoff fell below ..."
std::string FormatAlertLine(const AlertEvent& a);
std::string AlertJson(const AlertEvent& a);

}  // namespace tallywire
