// Shared by the fuzz targets of file readers: the input written to one
// scratch file per process, so a reader that takes paths can be fed bytes.
//
//   const std::string& path = fuzz::WriteScratch("csv", data, size);
//   ReadOpenElectionsCsv({path}, options, &report);
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace tallywire::fuzz {

// The path stays the same for the process (a reader may put it in messages);
// /dev/shm keeps a few hundred thousand rewrites a minute off the disk.
inline const std::string& WriteScratch(const char* extension, const uint8_t* data, size_t size) {
  static const std::string path = [extension] {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/tallywire-fuzz-" + std::to_string(getpid()) + "." + extension;
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace tallywire::fuzz
