// MentionCatalog: the candidates posts are matched against, one slot per
// (race, candidate), and the matcher built from their names.
//
//   MentionCatalog next = MentionCatalog::With(current, race_definition, extra_terms);
//   current.matcher().Match(text, &slots);      // slots index current.slots()
//
// Terms per candidate: the full name ("Jon Ossoff"), the surname ("Ossoff";
// suffixes such as Jr. skipped), the name written as one word (handles and
// hashtags: "@JonOssoff", "#JonOssoff"), the definition's aliases, and any
// configured terms. A catalog
// is immutable; a new race gives a new catalog in which every existing slot
// keeps its number, so window counts stay valid across versions.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "consumers/social/match.h"
#include "core/codec.h"

namespace tallywire {

struct MentionSlot {
  std::string race_id, candidate_id, candidate_name;
  bool operator==(const MentionSlot&) const = default;
};

// Configured terms: candidate id -> extra terms (for every race that has
// that candidate id).
using ExtraTerms = absl::flat_hash_map<std::string, std::vector<std::string>>;

// Reads a terms file: one candidate a line, `candidate-id: term, term, ...`;
// '#' starts a comment. Errors name FILE:LINE.
absl::StatusOr<ExtraTerms> LoadExtraTerms(const std::string& path);

class MentionCatalog {
 public:
  MentionCatalog() = default;
  static MentionCatalog With(const MentionCatalog& base, const RaceDefinitionEvent& race,
                             const ExtraTerms& extra);

  const std::vector<MentionSlot>& slots() const { return slots_; }
  const MentionMatcher& matcher() const { return matcher_; }
  // Slots of one race, in candidate order; empty when unknown.
  std::vector<int32_t> SlotsOf(absl::string_view race_id) const;
  // The terms a candidate's slot matches, folded (for docs and tests).
  std::vector<std::string> TermsOf(int32_t slot) const;

 private:
  std::vector<MentionSlot> slots_;
  std::vector<MentionTerm> terms_;
  MentionMatcher matcher_;
};

}  // namespace tallywire
