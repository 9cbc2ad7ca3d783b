// Shared by the codec fuzz targets: a buffer that decodes must re-encode to
// one that decodes to the same value (the producers' Encode* and the
// consumers' ToValue agree on every field the verifier lets through).
//
//   CheckRoundTrip(**DecodePost(bytes), EncodePost, DecodePost);
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/codec.h"

namespace tallywire::fuzz {

template <typename Wire, typename Encode, typename Decode>
void CheckRoundTrip(const Wire& table, Encode encode, Decode decode) {
  const auto value = ToValue(table);
  const std::string again = encode(value);
  AlignedBytes aligned;
  auto decoded = decode(aligned.Align(AsBytes(again)));
  if (!decoded.ok()) {
    std::fprintf(stderr, "re-encoded value does not decode: %s\n",
                 std::string(decoded.status().message()).c_str());
    std::abort();
  }
  if (!(ToValue(**decoded) == value)) {
    std::fprintf(stderr, "re-encoded value decodes to a different value\n");
    std::abort();
  }
}

}  // namespace tallywire::fuzz
