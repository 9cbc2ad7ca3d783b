// Mention matching: which candidates a post names, and which hashtags it
// carries. Multi-pattern (Aho–Corasick), case- and accent-insensitive, on
// word boundaries.
//
//   MentionMatcher m = MentionMatcher::Build({{"Jon Ossoff", 0}, {"Ossoff", 0}});
//   std::vector<int32_t> who;
//   m.Match("ICYMI: #Ossoff's lead holds", &who);   // who == {0}
//
// Both the patterns and the text go through FoldForMatching: ASCII letters
// lower-cased, Latin-1 and Latin Extended-A letters folded to their base
// letter (é→e, ñ→n; æ→a, ß→s: one letter each), digits kept, every run of
// other characters (spaces, punctuation, '#', '@', emoji, CJK) collapsed to
// one space. So "#Ossoff", "@OSSOFF", "Óssoff" and "ossoff," all read
// "ossoff", "Jon-Ossoff" reads "jon ossoff", and a match must start and end
// at a space or the ends of the text: "Hillary" does not contain "Hill".
// Letters of other alphabets (Greek, Cyrillic, ...) count as letters and
// pass through unfolded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tallywire {

// Appends the folded form of `text` to `*out`.
void FoldForMatching(absl::string_view text, std::string* out);

struct MentionTerm {
  std::string text;  // any form; folded before use
  int32_t target = 0;
};

class MentionMatcher {
 public:
  MentionMatcher();  // matches nothing
  static MentionMatcher Build(const std::vector<MentionTerm>& terms);

  // Replaces `*targets` with the distinct targets named in `text`, sorted.
  // `scratch` holds the folded text; pass the same one to avoid allocating.
  void Match(absl::string_view text, std::vector<int32_t>* targets,
             std::string* scratch = nullptr) const;

  size_t states() const { return out_begin_.size() - 1; }

 private:
  uint8_t byte_class_[256] = {};
  int classes_ = 1;
  // Full DFA over byte classes. States are numbered so that those with
  // outputs come last, and each entry holds the next state's row offset
  // (state × classes_): a step is one load, and "any output here?" one
  // compare against first_output_row_.
  std::vector<int32_t> delta_;
  int32_t first_output_row_ = 0;
  struct Output {
    int32_t target;
    int32_t length;  // of the folded pattern, for the boundary check
  };
  // Outputs of state s: outputs_[out_begin_[s] .. out_begin_[s+1]), own and
  // inherited through the failure links.
  std::vector<int32_t> out_begin_;
  std::vector<Output> outputs_;
};

// Replaces `*tags` with the distinct hashtags in `text`, folded as above and
// prefixed with '#' ("#GA06" and "#ga06" are one tag), each at most
// kMaxHashtagBytes (longer ones are cut there).
inline constexpr size_t kMaxHashtagBytes = 31;
void ExtractHashtags(absl::string_view text, std::vector<std::string>* tags);

}  // namespace tallywire
