// Changelog keys: the owned state of a race, one compacted record per key,
// on the changelog partition of the race's home (consumers/state/README.md).
//
//   producer.Produce({.topic = changelog, .partition = home,
//                     .key = TallyKey(race, precinct), .value = tally_bytes});
//   ChangelogKey k = ParseChangelogKey(m.key);   // on restore
//
// A precinct's record is the latest tally its owner accepted, as received
// (TWPT bytes); the race's detector record is RaceDetector::SaveState()
// text. Only the aggregator writes the topic, in increasing versions, so
// compaction's "last record per key" is the highest version: the state a
// new owner restores cannot be rewritten by whoever can write the input.
// Ids hold no NUL (MergeDefinition refuses them), so the keys are unique.
#pragma once

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tallywire {

inline std::string TallyKey(absl::string_view race, absl::string_view precinct) {
  return absl::StrCat("T", race, absl::string_view("\0", 1), precinct);
}
inline std::string DetectorKey(absl::string_view race) { return absl::StrCat("D", race); }

struct ChangelogKey {
  enum class Kind { kInvalid, kTally, kDetector } kind = Kind::kInvalid;
  absl::string_view race_id;
};

inline ChangelogKey ParseChangelogKey(absl::string_view key) {
  if (key.size() < 2) return {};
  const absl::string_view rest = key.substr(1);
  if (key[0] == 'D') return {ChangelogKey::Kind::kDetector, rest};
  if (key[0] != 'T') return {};
  const size_t nul = rest.find('\0');
  if (nul == absl::string_view::npos || nul == 0) return {};
  return {ChangelogKey::Kind::kTally, rest.substr(0, nul)};
}

}  // namespace tallywire
