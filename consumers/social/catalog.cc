#include "consumers/social/catalog.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tallywire {
namespace {

std::vector<std::string> TermsForName(const std::string& name) {
  std::vector<std::string> words = absl::StrSplit(name, ' ', absl::SkipWhitespace());
  std::vector<std::string> out = {name};
  while (words.size() > 1) {
    const std::string last = absl::AsciiStrToLower(absl::StripSuffix(words.back(), "."));
    if (last != "jr" && last != "sr" && last != "ii" && last != "iii" && last != "iv") break;
    words.pop_back();
  }
  if (words.size() > 1) {
    out.push_back(words.back());
    out.push_back(absl::StrJoin(words, ""));
  }
  return out;
}

}  // namespace

absl::StatusOr<ExtraTerms> LoadExtraTerms(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  ExtraTerms terms;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    // A view of `line` itself: line.substr() would be a temporary, gone
    // before `l` is read.
    absl::string_view l =
        absl::StripAsciiWhitespace(absl::string_view(line).substr(0, line.find('#')));
    if (l.empty()) continue;
    const size_t colon = l.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", n, ": expected `candidate-id: term, term`"));
    }
    auto& list = terms[absl::StripAsciiWhitespace(l.substr(0, colon))];
    for (absl::string_view t : absl::StrSplit(l.substr(colon + 1), ',')) {
      t = absl::StripAsciiWhitespace(t);
      if (!t.empty()) list.emplace_back(t);
    }
  }
  return terms;
}

MentionCatalog MentionCatalog::With(const MentionCatalog& base, const RaceDefinitionEvent& race,
                                    const ExtraTerms& extra) {
  MentionCatalog c = base;
  for (const CandidateInfo& cand : race.candidates) {
    int32_t slot = -1;
    for (size_t i = 0; i < c.slots_.size(); ++i) {
      if (c.slots_[i].race_id == race.race_id && c.slots_[i].candidate_id == cand.id) {
        slot = static_cast<int32_t>(i);
      }
    }
    if (slot >= 0) continue;  // known: its terms are in already
    slot = static_cast<int32_t>(c.slots_.size());
    c.slots_.push_back({race.race_id, cand.id, cand.name});
    for (std::string& t : TermsForName(cand.name)) c.terms_.push_back({std::move(t), slot});
    for (const std::string& t : cand.aliases) c.terms_.push_back({t, slot});
    if (auto it = extra.find(cand.id); it != extra.end()) {
      for (const std::string& t : it->second) c.terms_.push_back({t, slot});
    }
  }
  c.matcher_ = MentionMatcher::Build(c.terms_);
  return c;
}

std::vector<int32_t> MentionCatalog::SlotsOf(absl::string_view race_id) const {
  std::vector<int32_t> out;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].race_id == race_id) out.push_back(static_cast<int32_t>(i));
  }
  return out;
}

std::vector<std::string> MentionCatalog::TermsOf(int32_t slot) const {
  std::vector<std::string> out;
  for (const MentionTerm& t : terms_) {
    if (t.target != slot) continue;
    std::string f;
    FoldForMatching(t.text, &f);
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace tallywire
