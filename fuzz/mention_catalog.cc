// Fuzz target: the mention catalog the social thread builds from race
// definitions on the tallies topic and a `--mention-terms` file, and posts
// matched against it. Candidate names and aliases come off the topic, so
// the patterns of the Aho–Corasick matcher are hostile input as much as the
// texts are. Every match must name distinct slots of the catalog, sorted.
//
// Input: records as in records.h; the first is the terms file
// (LoadExtraTerms), then race definitions and posts, in any order: each
// definition grows the catalog, each post is matched against the catalog
// so far. fuzz/seeds/make_streams.py writes the seeds.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "consumers/social/catalog.h"
#include "core/codec.h"
#include "fuzz/records.h"
#include "fuzz/temp_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tallywire;
  const std::vector<fuzz::Record> records = fuzz::SplitRecords(data, size);
  if (records.empty()) return 0;
  absl::StatusOr<ExtraTerms> extra =
      LoadExtraTerms(fuzz::WriteScratch("terms", records[0].data, records[0].size));
  if (!extra.ok()) return 0;  // the service refuses to start

  MentionCatalog catalog;
  AlignedBytes aligned;
  std::vector<int32_t> slots;
  std::string scratch;
  for (size_t i = 1; i < records.size(); ++i) {
    const absl::Span<const uint8_t> bytes = aligned.Align({records[i].data, records[i].size});
    if (auto def = DecodeRaceDefinition(bytes); def.ok()) {
      catalog = MentionCatalog::With(catalog, ToValue(**def), *extra);
      continue;
    }
    auto post = DecodePost(bytes);
    if (!post.ok()) continue;
    catalog.matcher().Match(View((*post)->text()), &slots, &scratch);
    for (size_t j = 0; j < slots.size(); ++j) {
      if (slots[j] < 0 || static_cast<size_t>(slots[j]) >= catalog.slots().size() ||
          (j > 0 && slots[j] <= slots[j - 1])) {
        std::fprintf(stderr, "match returned slot %d of %zu, not distinct and sorted\n", slots[j],
                     catalog.slots().size());
        std::abort();
      }
    }
  }
  for (size_t s = 0; s < catalog.slots().size(); ++s) {
    (void)catalog.TermsOf(static_cast<int32_t>(s));
  }
  (void)catalog.SlotsOf("us-house-6");
  return 0;
}
