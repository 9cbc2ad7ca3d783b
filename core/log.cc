#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/json_writer.h"
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

void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (g_json) {
    JsonWriter w;
    w.BeginObject().Key("ts").String(ts).Key("level").String(LevelName(level));
    w.Key("event").String(event);
    for (const auto& [k, v] : fields) w.Key(k).String(v);
    w.EndObject();
    line = std::move(w).Finish() + "\n";
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
