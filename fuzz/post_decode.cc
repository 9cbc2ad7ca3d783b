// Fuzz target: a post from the posts topic, decoded and matched against the
// GA-06 candidates, as Worker::OnPost does; the value round-trips through the
// encoder.
#include <cstdint>
#include <string>
#include <vector>

#include "consumers/social/match.h"
#include "core/codec.h"
#include "fuzz/roundtrip.h"
#include "producers/social/posts.h"

namespace {

tallywire::MentionMatcher Ga06Matcher() {
  std::vector<tallywire::MentionTerm> terms;
  const std::vector<tallywire::CandidateInfo> candidates = tallywire::Ga06AprilCandidates();
  for (size_t i = 0; i < candidates.size(); ++i) {
    terms.push_back({candidates[i].name, static_cast<int32_t>(i)});
    for (const std::string& alias : candidates[i].aliases) {
      terms.push_back({alias, static_cast<int32_t>(i)});
    }
  }
  return tallywire::MentionMatcher::Build(terms);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tallywire;
  static const MentionMatcher matcher = Ga06Matcher();
  static AlignedBytes aligned;
  absl::StatusOr<const wire::SocialPost*> p = DecodePost(aligned.Align({data, size}));
  if (!p.ok()) return 0;
  fuzz::CheckRoundTrip(**p, EncodePost, DecodePost);
  std::vector<int32_t> who;
  std::string scratch;
  matcher.Match(View((*p)->text()), &who, &scratch);
  return 0;
}
