// Structured logging: one line per event of note, key=value text by default,
// one JSON object per line after SetLogJson(true).
//
//   Log(LogLevel::kWarn, "csv_summary_row", {{"file", path}, {"line", "204"}});
//   -> 2026-11-23T12:00:00.123Z WARN csv_summary_row file=cobb.csv line=204
//
// A text value that is empty or holds a space, '=', a quote, a control byte
// or invalid UTF-8 is written quoted and escaped as a JSON string, so input
// can never start a line of its own. Never log secrets: callers pass
// KafkaConfig::Printable(), which masks them.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "core/json_writer.h"  // JsonEscape, for callers that found it here

namespace tallywire {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogField = std::pair<absl::string_view, std::string>;

void SetLogJson(bool json);
void SetLogLevel(LogLevel min_level);
void SetLogQuiet(bool quiet);  // drops everything below kError (the demo board owns the tty)
void Log(LogLevel level, absl::string_view event, std::initializer_list<LogField> fields = {});

}  // namespace tallywire
