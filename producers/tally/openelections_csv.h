// OpenElections precinct CSV -> Feed.
//
//   CsvReport report;
//   TW_ASSIGN_OR_RETURN(Feed feed, ReadOpenElectionsCsv({"cobb.csv"}, {}, &report));
//
// Columns are found by header name, in any order and case: `precinct`,
// `office`, `candidate`, `votes` are required; `county`, `district`, `party`
// and vote-type columns (`early_voting`, `absentee`, `election_day`,
// `provisional`, and common variants) are used when present; any other
// column is reported once and ignored; a column named twice (or two
// spellings of one column, `votes` and `Total Votes`) is an error. Quoted
// fields (RFC 4180, see CsvTokenizer), a UTF-8 BOM and CRLF line ends are
// accepted; every cell must be UTF-8 (`FILE:LINE: invalid UTF-8 in column X`).
//
// Rows: one race per (office, district); `Voters`/`Registered`,
// `Voters`/`Ballots Cast` (or offices `Registered Voters`, `Ballots Cast`)
// give a precinct's registered voters and ballots cast for every race in it.
// County summary rows (precinct `TOTAL`, `Total`, any case) are recognised,
// checked against the precinct sums, reported once and not published.
// Over/under-vote and total rows are reported and kept out of candidate
// votes. Every number is parsed exactly as an integer; a malformed line is
// an error "FILE:LINE: what is wrong" that aborts or, with kSkip, is counted
// and skipped (skipping one row of a precinct skips only that row).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "producers/tally/feed.h"

namespace tallywire {

enum class OnError { kAbort, kSkip };

struct CsvOptions {
  OnError on_error = OnError::kAbort;
  uint64_t version = 0;  // 0: each file's modification time (seconds), so a newer file wins
  int32_t majority_threshold_bp = 5000;
};

struct CsvReport {
  int64_t rows = 0;
  int64_t rows_skipped = 0;
  std::vector<std::string> errors;  // "FILE:LINE: ..." for every skipped row
  std::vector<std::string> notes;   // summary rows, ignored columns, pseudo-candidates
  int64_t summary_rows = 0;
  int64_t non_candidate_rows = 0;
};

absl::StatusOr<Feed> ReadOpenElectionsCsv(const std::vector<std::string>& files,
                                          const CsvOptions& options, CsvReport* report);

// "U.S. House" + "6" -> "us-house-6"; lowercase ASCII words joined by '-'.
std::string Slug(absl::string_view s);

// RFC 4180 records, one after another. A quoted field may hold commas,
// doubled quotes and line breaks; spaces around a quoted field are padding.
// A quote inside an unquoted field, text after a closing quote or an
// unterminated quote is an error for that record, and reading resumes at
// the line after the one the record started on, so one bad quote never
// swallows the rest of a file.
//
//   CsvTokenizer t(text);
//   while (t.Next(&fields, &error, &line)) { if (!error.ok()) ...; }
class CsvTokenizer {
 public:
  explicit CsvTokenizer(absl::string_view text);
  // false at the end; else *fields or *error, and the record's first line.
  bool Next(std::vector<std::string>* fields, absl::Status* error, int* line);
  bool at_end() const { return pos_ >= s_.size(); }

 private:
  absl::string_view s_;
  size_t pos_ = 0;
  int line_ = 1;
};

// One CSV record split into fields; an error if it is malformed or is more
// than one record.
absl::StatusOr<std::vector<std::string>> SplitCsvRecord(absl::string_view line);

}  // namespace tallywire
