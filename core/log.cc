#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/utf8.h"

namespace tallywire {
namespace {
std::atomic<bool> g_json{false};
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_write_mu;  // one whole line at a time; logging is off the hot path

absl::string_view LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}
}  // namespace

void SetLogJson(bool json) { g_json = json; }
void SetLogLevel(LogLevel min_level) { g_min_level = static_cast<int>(min_level); }
void SetLogQuiet(bool quiet) {
  g_min_level = static_cast<int>(quiet ? LogLevel::kError : LogLevel::kInfo);
}

std::string JsonEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          // DEL too: a terminal acts on it, so a log line must not carry it raw.
          out += absl::StrFormat("\\u%04x", c);
        } else if (c < 0x80) {
          out += static_cast<char>(c);
        } else if (const int n = Utf8SequenceLength(s.substr(i)); n > 0) {
          out.append(s.data() + i, n);
          i += n - 1;
        } else {
          // Not text: one U+FFFD per byte keeps every document we write valid
          // JSON, whoever forgot to validate upstream.
          out += "\xEF\xBF\xBD";
        }
    }
  }
  return out;
}

void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (g_json) {
    line = absl::StrCat("{\"ts\":\"", ts, "\",\"level\":\"", LevelName(level), "\",\"event\":\"",
                        JsonEscape(event), "\"");
    for (const auto& [k, v] : fields) {
      absl::StrAppend(&line, ",\"", JsonEscape(k), "\":\"", JsonEscape(v), "\"");
    }
    line += "}\n";
  } else {
    line = absl::StrCat(ts, " ", LevelName(level), " ", event);
    for (const auto& [k, v] : fields) {
      // Quoted and escaped whenever the value is not plain: a newline or a
      // control byte from input must not start a line of its own.
      std::string escaped = JsonEscape(v);
      const bool quote = v.empty() || escaped != v || v.find_first_of(" =") != std::string::npos;
      absl::StrAppend(&line, " ", k, "=", quote ? absl::StrCat("\"", escaped, "\"") : escaped);
    }
    line += "\n";
  }
  std::lock_guard<std::mutex> lock(g_write_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace tallywire
