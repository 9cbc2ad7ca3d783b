// Fuzz target: an OpenElections precinct CSV file, read with both error
// policies, and every race and tally it yields encoded and decoded as the
// producer and the service would.
#include "producers/tally/openelections_csv.h"

#include <cstdint>
#include <cstdlib>

#include "core/codec.h"
#include "core/log.h"
#include "fuzz/temp_file.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tallywire::SetLogQuiet(true);  // skipped rows are logged; the fuzzer's own output matters
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tallywire;
  const std::string& path = fuzz::WriteScratch("csv", data, size);
  for (OnError on_error : {OnError::kAbort, OnError::kSkip}) {
    CsvReport report;
    // version 0 would read the scratch file's mtime: a finding would not
    // reproduce the same way.
    absl::StatusOr<Feed> feed =
        ReadOpenElectionsCsv({path}, {.on_error = on_error, .version = 1}, &report);
    if (!feed.ok()) continue;
    AlignedBytes aligned;
    for (const RaceDefinitionEvent& race : feed->races) {
      const std::string bytes = EncodeRaceDefinition(race);
      if (!DecodeRaceDefinition(aligned.Align(AsBytes(bytes))).ok()) std::abort();
    }
    for (const TallyEvent& tally : feed->tallies) {
      const std::string bytes = EncodeTally(tally);
      (void)DecodeTally(aligned.Align(AsBytes(bytes)));
    }
  }
  return 0;
}
