// Codec: verify, decode and build every tallywire wire message.
//
// Every buffer that arrives from a topic goes through one Decode* call,
// which checks the size limit, the 4-byte file identifier, the FlatBuffers
// Verifier and the semantic bounds (no negative or overflowing counts)
// before handing out a pointer into the buffer. Nothing is copied.
//
//   TW_ASSIGN_OR_RETURN(const wire::PrecinctTally* t, DecodeTally(bytes));
//   std::string bytes = EncodeTally(TallyEvent{...});
//
// The value types (TallyEvent, ...) are for producers and tests; the hot
// path reads the verified FlatBuffers tables directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "schemas/alert_generated.h"
#include "schemas/post_generated.h"
#include "schemas/race_generated.h"
#include "schemas/tally_generated.h"

namespace tallywire {

// Larger buffers are rejected before verification: a tally for a race with
// thousands of candidates is still far below this.
inline constexpr size_t kMaxMessageBytes = 1 << 20;
// A count above this is an overflow or a corrupted feed, not a vote count:
// more than every registered voter of any precinct on Earth, and small
// enough that sums over millions of precincts fit in int64.
inline constexpr int64_t kMaxCount = 1'000'000'000;

enum class MessageKind { kTally, kRaceDefinition, kPost, kAlert };

// Which table a buffer claims to hold, by its file identifier. Does not
// verify the rest.
absl::StatusOr<MessageKind> IdentifyMessage(absl::Span<const uint8_t> bytes);

absl::StatusOr<const wire::PrecinctTally*> DecodeTally(absl::Span<const uint8_t> bytes);
absl::StatusOr<const wire::RaceDefinition*> DecodeRaceDefinition(absl::Span<const uint8_t> bytes);
absl::StatusOr<const wire::SocialPost*> DecodePost(absl::Span<const uint8_t> bytes);
absl::StatusOr<const wire::Alert*> DecodeAlert(absl::Span<const uint8_t> bytes);

// A FlatBuffers string as an absl::string_view (empty when absent).
inline absl::string_view View(const flatbuffers::String* s) {
  return s == nullptr ? absl::string_view() : absl::string_view(s->c_str(), s->size());
}

inline absl::Span<const uint8_t> AsBytes(absl::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Kafka hands out payloads at any address, but a FlatBuffers buffer must
// start 8-byte aligned: its verifier checks alignment relative to the start,
// and int64 vectors are read in place. Decode* reject unaligned input;
// Align() returns the bytes unchanged when aligned, else a copy held here
// (valid until the next call). One per consumer thread.
class AlignedBytes {
 public:
  absl::Span<const uint8_t> Align(absl::Span<const uint8_t> bytes);

 private:
  std::vector<uint64_t> storage_;
};

// ---- value types, for producers and tests ----------------------------------

struct VoteTypeBreakdown {
  std::vector<int64_t> early, absentee, election_day, provisional;
  bool operator==(const VoteTypeBreakdown&) const = default;
};

struct TallyEvent {
  std::string race_id;
  std::string precinct_id;
  std::string precinct_name;
  std::string county;
  uint64_t version = 0;
  int64_t event_time_ms = 0;
  std::vector<int64_t> votes;
  std::optional<VoteTypeBreakdown> by_type;
  int64_t ballots_cast = -1;
  int64_t registered_voters = -1;
  bool complete = false;
  std::string source;
  bool operator==(const TallyEvent&) const = default;
};

struct CandidateInfo {
  std::string id, name, party;
  std::vector<std::string> aliases;
  bool operator==(const CandidateInfo&) const = default;
};

struct PrecinctInfo {
  std::string id, name, county;
  int64_t registered_voters = -1;
  bool operator==(const PrecinctInfo&) const = default;
};

struct RaceDefinitionEvent {
  std::string race_id, name;
  std::vector<CandidateInfo> candidates;
  int32_t majority_threshold_bp = 5000;
  std::vector<PrecinctInfo> precincts;
  uint64_t version = 0;
  std::string source;
  bool operator==(const RaceDefinitionEvent&) const = default;
};

struct PostEvent {
  std::string id, author;
  int64_t created_at_ms = 0;
  std::string text, lang;
  bool is_reply = false, is_repost = false;
  int64_t likes = 0, reposts = 0, replies = 0;
  std::string county;
  bool operator==(const PostEvent&) const = default;
};

struct AlertEvent {
  std::string id;
  wire::AlertKind kind = wire::AlertKind::ThresholdCrossedUp;
  std::string race_id, candidate_id, candidate_name;
  int32_t threshold_bp = 0, share_bp = 0;
  int64_t votes = 0, total_votes = 0;
  int32_t precincts_reporting = 0, precincts_total = 0;
  int64_t event_time_ms = 0, produce_time_ms = 0, detect_time_ms = 0;
  std::string source_topic;
  int32_t source_partition = -1;
  int64_t source_offset = -1;
  std::string previous_candidate_id;
  std::string message;
  bool operator==(const AlertEvent&) const = default;
};

std::string EncodeTally(const TallyEvent& e);
std::string EncodeRaceDefinition(const RaceDefinitionEvent& e);
std::string EncodePost(const PostEvent& e);
std::string EncodeAlert(const AlertEvent& e);

// Copies a verified table into its value type.
TallyEvent ToValue(const wire::PrecinctTally& t);
RaceDefinitionEvent ToValue(const wire::RaceDefinition& r);
PostEvent ToValue(const wire::SocialPost& p);
AlertEvent ToValue(const wire::Alert& a);

absl::string_view AlertKindName(wire::AlertKind kind);

}  // namespace tallywire
