// UTF-8 at the edges: every text that enters from a file, a feed or a topic
// is checked once, where it enters, so nothing downstream (JSON bodies,
// logs, the board) has to cope with bytes that are not text.
//
//   if (!IsValidUtf8(cell)) return absl::InvalidArgumentError("invalid UTF-8");
//   std::string safe = ValidUtf8OrReplaced(bytes);  // U+FFFD for each bad byte
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace tallywire {

// Well-formed UTF-8 (RFC 3629): no overlongs, no surrogates, nothing past
// U+10FFFF. simdjson's validator: tens of GB/s, so callers need no fast path.
bool IsValidUtf8(absl::string_view s);

// Length of the well-formed sequence that starts s, or 0 if there is none.
int Utf8SequenceLength(absl::string_view s);

}  // namespace tallywire
