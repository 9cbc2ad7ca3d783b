// Fuzz target: an alert from the alerts topic, decoded and printed as
// `tallywire alerts [--json]` does; the value round-trips through the encoder.
#include <cstdint>

#include "consumers/alerts/follow.h"
#include "core/codec.h"
#include "fuzz/roundtrip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tallywire;
  static AlignedBytes aligned;
  absl::StatusOr<const wire::Alert*> a = DecodeAlert(aligned.Align({data, size}));
  if (!a.ok()) return 0;
  fuzz::CheckRoundTrip(**a, EncodeAlert, DecodeAlert);
  const AlertEvent value = ToValue(**a);
  (void)FormatAlertLine(value);
  (void)AlertJson(value);
  return 0;
}
