// ParseJsonBack: a document through Python's json module, a reader we did
// not write, for tests that every JSON tallywire writes parses.
//
//   auto [ok, ascii] = ParseJsonBack(RaceSnapshotJson(snapshot));
//   EXPECT_TRUE(ok) << ascii;   // ascii: re-encoded with ensure_ascii, or the error
#pragma once

#include <stdlib.h>

#include <cstdio>
#include <string>
#include <utility>

namespace tallywire::testing {

inline std::pair<bool, std::string> ParseJsonBack(const std::string& doc) {
  char path[] = "/tmp/tw-json-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return {false, "mkstemp failed"};
  FILE* f = fdopen(fd, "wb");
  std::fwrite(doc.data(), 1, doc.size(), f);
  std::fclose(f);
  const std::string cmd = std::string("python3 -c 'import json,sys; ") +
                          "print(json.dumps(json.load(open(sys.argv[1], \"rb\"))), end=\"\")' " +
                          path + " 2>&1";
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  char buf[4096];
  for (size_t n; pipe && (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, n);
  const bool ok = pipe && pclose(pipe) == 0;
  std::remove(path);
  return {ok, out};
}

}  // namespace tallywire::testing
