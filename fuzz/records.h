// Shared by the fuzz targets whose input is several pieces (a config file,
// then messages): records of a 2-byte little-endian length and that many
// bytes. A short last record takes what is left.
//
//   for (const fuzz::Record& r : fuzz::SplitRecords(data, size)) Handle(r.data, r.size);
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tallywire::fuzz {

struct Record {
  const uint8_t* data;
  size_t size;
};

inline std::vector<Record> SplitRecords(const uint8_t* data, size_t size) {
  std::vector<Record> out;
  while (size >= 2) {
    const size_t n = std::min<size_t>(data[0] | (size_t{data[1]} << 8), size - 2);
    out.push_back({data + 2, n});
    data += 2 + n;
    size -= 2 + n;
  }
  return out;
}

}  // namespace tallywire::fuzz
