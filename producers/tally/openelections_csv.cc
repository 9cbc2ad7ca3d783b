#include "producers/tally/openelections_csv.h"

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <map>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "core/utf8.h"

namespace tallywire {

std::string Slug(absl::string_view s) {
  std::string out;
  bool dash = false;
  for (char ch : s) {
    if (ch == '.' || ch == '\'') continue;  // "U.S." -> "us"
    if (absl::ascii_isalnum(static_cast<unsigned char>(ch))) {
      if (dash && !out.empty()) out += '-';
      out += absl::ascii_tolower(static_cast<unsigned char>(ch));
      dash = false;
    } else {
      dash = true;
    }
  }
  return out;
}

CsvTokenizer::CsvTokenizer(absl::string_view text) : s_(text) {}

bool CsvTokenizer::Next(std::vector<std::string>* fields, absl::Status* error, int* line) {
  if (pos_ >= s_.size()) return false;
  fields->clear();
  *error = absl::OkStatus();
  *line = line_;
  const size_t start = pos_;
  const int start_line = line_;
  // On a malformed record, resume at the line after the one it started on:
  // one bad quote costs that line, never the rest of the file.
  auto fail = [&](absl::string_view what) {
    *error = absl::InvalidArgumentError(
        absl::StrCat(what, " (field ", fields->size() + 1, ", RFC 4180)"));
    fields->clear();
    const size_t nl = s_.find('\n', start);
    pos_ = nl == absl::string_view::npos ? s_.size() : nl + 1;
    line_ = start_line + 1;
    return true;
  };
  enum { kFieldStart, kUnquoted, kQuoted, kAfterQuote } state = kFieldStart;
  std::string cur;
  while (pos_ < s_.size()) {
    const char c = s_[pos_++];
    if (state == kQuoted) {
      if (c == '"') {
        if (pos_ < s_.size() && s_[pos_] == '"') {
          cur += '"';
          ++pos_;
        } else {
          state = kAfterQuote;
        }
      } else if (c == '\r' && pos_ < s_.size() && s_[pos_] == '\n') {
        // CRLF inside a quoted field is one line break, as outside it.
      } else {
        if (c == '\n') ++line_;
        cur += c;
      }
      continue;
    }
    if (c == '\r' && pos_ < s_.size() && s_[pos_] == '\n') continue;
    if (c == '\n') {
      ++line_;
      fields->push_back(std::move(cur));
      return true;
    }
    if (c == ',') {
      fields->push_back(std::move(cur));
      cur.clear();
      state = kFieldStart;
      continue;
    }
    switch (state) {
      case kFieldStart:
        if (c == '"') {
          cur.clear();  // spaces before an opening quote are padding
          state = kQuoted;
        } else {
          cur += c;
          if (c != ' ' && c != '\t') state = kUnquoted;
        }
        break;
      case kUnquoted:
        if (c == '"') return fail("stray quote in an unquoted field");
        cur += c;
        break;
      case kAfterQuote:
        if (c != ' ' && c != '\t') return fail("text after a closing quote");
        break;
      case kQuoted:
        break;
    }
  }
  if (state == kQuoted) return fail("unterminated quoted field");
  fields->push_back(std::move(cur));
  return true;
}

absl::StatusOr<std::vector<std::string>> SplitCsvRecord(absl::string_view line) {
  CsvTokenizer tokenizer(line);
  std::vector<std::string> fields;
  absl::Status error;
  int line_no = 0;
  if (!tokenizer.Next(&fields, &error, &line_no)) return std::vector<std::string>{""};
  TW_RETURN_IF_ERROR(error);
  if (!tokenizer.at_end()) return absl::InvalidArgumentError("more than one record");
  return fields;
}

namespace {

enum Column {
  kCounty,
  kPrecinct,
  kOffice,
  kDistrict,
  kCandidate,
  kParty,
  kVotes,
  kEarly,
  kAbsentee,
  kElectionDay,
  kProvisional,
  kColumnCount
};

std::string NormalisedHeader(absl::string_view header) {
  std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(header));
  for (char& c : key)
    if (c == ' ' || c == '-') c = '_';
  return key;
}

std::optional<Column> ColumnOf(absl::string_view header) {
  static const auto* kNames =
      new absl::flat_hash_map<std::string, Column>{{"county", kCounty},
                                                   {"parish", kCounty},
                                                   {"precinct", kPrecinct},
                                                   {"office", kOffice},
                                                   {"district", kDistrict},
                                                   {"candidate", kCandidate},
                                                   {"party", kParty},
                                                   {"votes", kVotes},
                                                   {"total_votes", kVotes},
                                                   {"early_voting", kEarly},
                                                   {"early_votes", kEarly},
                                                   {"early", kEarly},
                                                   {"absentee", kAbsentee},
                                                   {"absentee_by_mail", kAbsentee},
                                                   {"mail", kAbsentee},
                                                   {"absentee_votes", kAbsentee},
                                                   {"election_day", kElectionDay},
                                                   {"election_day_votes", kElectionDay},
                                                   {"provisional", kProvisional},
                                                   {"provisional_votes", kProvisional}};
  auto it = kNames->find(NormalisedHeader(header));
  if (it == kNames->end()) return std::nullopt;
  return it->second;
}

// Exact integer: digits, optionally grouped with commas ("1,234").
absl::StatusOr<int64_t> ParseCount(absl::string_view raw, absl::string_view what) {
  absl::string_view s = absl::StripAsciiWhitespace(raw);
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat("empty ", what));
  std::string digits;
  bool negative = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 0 && c == '-') {
      negative = true;
      continue;
    }
    if (c == ',' && !digits.empty()) continue;
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(what, " is not a whole number: \"", s, "\""));
    }
    digits += c;
  }
  int64_t v = 0;
  if (digits.empty() || digits.size() > 12 || !absl::SimpleAtoi(digits, &v)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a count: \"", s, "\""));
  }
  if (negative && v != 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative ", what, ": ", s));
  }
  if (v > kMaxCount) {
    return absl::InvalidArgumentError(absl::StrCat(what, " overflows: ", s));
  }
  return v;
}

bool IsSummaryPrecinct(absl::string_view p) {
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(p));
  return s == "total" || s == "totals" || s == "county total" || s == "county totals" ||
         s == "grand total";
}

bool IsNonCandidate(absl::string_view c) {
  std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(c));
  for (char& ch : s)
    if (ch == '-' || ch == '_') ch = ' ';
  return s == "over votes" || s == "overvotes" || s == "under votes" || s == "undervotes" ||
         s == "total votes" || s == "total" || s == "blank votes" || s == "blanks" ||
         s == "times cast" || s == "total ballots cast";
}

enum class VoterRow { kNone, kRegistered, kBallots };

VoterRow VoterRowOf(absl::string_view office, absl::string_view candidate) {
  std::string o = absl::AsciiStrToLower(absl::StripAsciiWhitespace(office));
  std::string c = absl::AsciiStrToLower(absl::StripAsciiWhitespace(candidate));
  if (o == "registered voters" || (o == "voters" && c == "registered"))
    return VoterRow::kRegistered;
  if (o == "ballots cast" || (o == "voters" && c == "ballots cast")) return VoterRow::kBallots;
  return VoterRow::kNone;
}

struct PrecinctKey {
  std::string county, precinct;
  bool operator<(const PrecinctKey& o) const {
    return std::tie(county, precinct) < std::tie(o.county, o.precinct);
  }
};

struct PrecinctData {
  int64_t registered = -1, ballots = -1;
  int first_order = 0;
  std::string file;
};

struct RaceData {
  std::string id, office, district;
  std::vector<CandidateInfo> candidates;
  absl::flat_hash_map<std::string, size_t> candidate_index;  // "name|party"
  // precinct -> per candidate votes (and by type), with the line each came from
  struct Cell {
    std::vector<int64_t> votes, early, absentee, eday, prov;
    std::vector<int> line;  // 0: no row seen for that candidate
    bool has_types = false;
  };
  std::map<PrecinctKey, Cell> cells;
  std::vector<PrecinctKey> order;  // first-seen order
  // county -> summary votes per candidate (from TOTAL rows)
  std::map<std::string, std::map<size_t, int64_t>> summaries;
};

void Grow(std::vector<int64_t>& v, size_t n) {
  if (v.size() < n) v.resize(n, 0);
}

}  // namespace

absl::StatusOr<Feed> ReadOpenElectionsCsv(const std::vector<std::string>& files,
                                          const CsvOptions& options, CsvReport* report) {
  std::map<std::string, RaceData> races;  // by race id
  std::vector<std::string> race_order;
  std::map<PrecinctKey, PrecinctData> precincts;
  uint64_t max_version = options.version;
  std::map<PrecinctKey, uint64_t> precinct_version;
  int precinct_seq = 0;

  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
    uint64_t version = options.version;
    struct stat st;
    if (version == 0)
      version = stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_mtime) : 1;
    max_version = std::max(max_version, version);
    const std::string file =
        path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);

    auto fail = [&](int line, const absl::Status& why) -> absl::Status {
      std::string msg = absl::StrCat(path, ":", line, ": ", why.message());
      if (options.on_error == OnError::kAbort) return absl::InvalidArgumentError(msg);
      ++report->rows_skipped;
      report->errors.push_back(msg);
      Log(LogLevel::kWarn, "csv_row_skipped",
          {{"where", absl::StrCat(path, ":", line)}, {"error", std::string(why.message())}});
      return absl::OkStatus();
    };

    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
    absl::string_view body = text;
    absl::ConsumePrefix(&body, "\xEF\xBB\xBF");
    // Most files are all UTF-8: one pass over the file, cells only if not.
    const bool all_utf8 = IsValidUtf8(body);
    CsvTokenizer tokenizer(body);
    std::vector<std::string> header_names;
    int record_line = 0;
    absl::Status record_error;
    std::vector<int> col(kColumnCount, -1);
    size_t header_fields = 0;
    bool header = true;
    std::map<std::string, bool> summary_reported;
    std::vector<std::string> fields;
    while (tokenizer.Next(&fields, &record_error, &record_line)) {
      if (!record_error.ok()) {
        if (header)
          return absl::InvalidArgumentError(
              absl::StrCat(path, ":", record_line, ": header: ", record_error.message()));
        ++report->rows;
        TW_RETURN_IF_ERROR(fail(record_line, record_error));
        continue;
      }
      if (fields.size() == 1 && absl::StripAsciiWhitespace(fields[0]).empty()) continue;
      if (header) {
        header = false;
        header_fields = fields.size();
        std::vector<std::string> ignored;
        // Two columns of one name (or two spellings of one column) would
        // leave it to chance which one is read.
        absl::flat_hash_map<std::string, std::string> seen;  // normalised -> as written
        for (size_t i = 0; i < fields.size(); ++i) {
          const std::string& name = fields[i];
          if (!all_utf8 && !IsValidUtf8(name)) {
            return absl::InvalidArgumentError(
                absl::StrCat(path, ":", record_line, ": invalid UTF-8 in header column ", i + 1));
          }
          std::optional<Column> c = ColumnOf(name);
          const std::string key = c ? absl::StrCat("#", *c) : NormalisedHeader(name);
          // Unnamed columns are padding nobody reads; only names can clash.
          auto [it, fresh] =
              key.empty() ? std::pair{seen.end(), true} : seen.try_emplace(key, name);
          if (!fresh) {
            return absl::InvalidArgumentError(
                it->second == name
                    ? absl::StrCat(path, ":", record_line, ": header has column \"", name,
                                   "\" twice")
                    : absl::StrCat(path, ":", record_line, ": header columns \"", it->second,
                                   "\" and \"", name, "\" are the same column"));
          }
          if (c) {
            col[*c] = static_cast<int>(i);
          } else {
            ignored.push_back(name);
          }
          header_names.push_back(name);
        }
        std::vector<std::string> missing;
        for (auto [c, name] : {std::pair{kPrecinct, "precinct"},
                               {kOffice, "office"},
                               {kCandidate, "candidate"},
                               {kVotes, "votes"}}) {
          if (col[c] < 0) missing.push_back(name);
        }
        if (!missing.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ":", record_line, ": header lacks required column(s) ",
              absl::StrJoin(missing, ", "), " (header: ", absl::StrJoin(fields, ","), ")"));
        }
        if (!ignored.empty()) {
          report->notes.push_back(
              absl::StrCat(path, ": ignored column(s) ", absl::StrJoin(ignored, ", ")));
        }
        continue;
      }
      ++report->rows;
      const std::vector<std::string>& f = fields;
      if (f.size() != header_fields) {
        TW_RETURN_IF_ERROR(
            fail(record_line, absl::InvalidArgumentError(absl::StrCat("expected ", header_fields,
                                                                      " fields, got ", f.size()))));
        continue;
      }
      size_t bad_cell = f.size();
      for (size_t i = 0; !all_utf8 && i < f.size() && bad_cell == f.size(); ++i)
        if (!IsValidUtf8(f[i])) bad_cell = i;
      if (bad_cell < f.size()) {
        TW_RETURN_IF_ERROR(
            fail(record_line, absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 in column ",
                                                                      header_names[bad_cell]))));
        continue;
      }
      auto get = [&](Column c) -> std::string {
        return col[c] < 0 ? std::string() : std::string(absl::StripAsciiWhitespace(f[col[c]]));
      };
      const std::string county = get(kCounty), precinct = get(kPrecinct), office = get(kOffice),
                        district = get(kDistrict), candidate = get(kCandidate), party = get(kParty);
      if (precinct.empty()) {
        TW_RETURN_IF_ERROR(fail(record_line, absl::InvalidArgumentError("empty precinct")));
        continue;
      }
      if (office.empty()) {
        TW_RETURN_IF_ERROR(fail(record_line, absl::InvalidArgumentError("empty office")));
        continue;
      }
      absl::StatusOr<int64_t> votes = ParseCount(f[col[kVotes]], "votes");
      if (!votes.ok()) {
        TW_RETURN_IF_ERROR(fail(record_line, votes.status()));
        continue;
      }
      const bool summary = IsSummaryPrecinct(precinct);
      const PrecinctKey key{county, precinct};
      const VoterRow voter_row = VoterRowOf(office, candidate);
      if (summary) {
        ++report->summary_rows;
        if (!summary_reported[county]) {
          summary_reported[county] = true;
          report->notes.push_back(absl::StrCat(path, ":", record_line, ": county summary row (",
                                               county.empty() ? "no county" : county,
                                               ", precinct \"", precinct,
                                               "\") recognised, not published"));
          Log(LogLevel::kInfo, "csv_summary_row",
              {{"where", absl::StrCat(path, ":", record_line)},
               {"county", county},
               {"precinct", precinct}});
        }
      }
      if (voter_row != VoterRow::kNone) {
        if (summary) continue;
        PrecinctData& pd = precincts[key];
        if (pd.file.empty()) {
          pd.file = file;
          pd.first_order = precinct_seq++;
        }
        (voter_row == VoterRow::kRegistered ? pd.registered : pd.ballots) = *votes;
        continue;
      }
      if (candidate.empty()) {
        TW_RETURN_IF_ERROR(fail(record_line, absl::InvalidArgumentError("empty candidate")));
        continue;
      }
      if (IsNonCandidate(candidate)) {
        if (!summary) ++report->non_candidate_rows;
        continue;
      }
      // An office of only punctuation or non-ASCII letters slugs to "": a
      // race id every consumer rejects, so the race's tallies would all be
      // dead letters.
      if (Slug(office).empty()) {
        TW_RETURN_IF_ERROR(
            fail(record_line,
                 absl::InvalidArgumentError(absl::StrCat(
                     "office \"", office, "\" has no ASCII letter or digit for a race id"))));
        continue;
      }
      const std::string race_id =
          district.empty() ? Slug(office) : absl::StrCat(Slug(office), "-", Slug(district));
      auto [rit, new_race] = races.try_emplace(race_id);
      RaceData& race = rit->second;
      if (new_race) {
        race.id = race_id;
        race.office = office;
        race.district = district;
        race_order.push_back(race_id);
      }
      const std::string ckey = absl::StrCat(candidate, "|", party);
      auto [cit, new_cand] = race.candidate_index.try_emplace(ckey, race.candidates.size());
      if (new_cand) {
        std::string id = Slug(candidate);
        for (const CandidateInfo& other : race.candidates) {
          if (other.id == id) id = absl::StrCat(id, "-", Slug(party.empty() ? "x" : party));
        }
        race.candidates.push_back({id, candidate, party, {}});
      }
      const size_t ci = cit->second;
      if (summary) {
        race.summaries[county][ci] += *votes;
        continue;
      }
      auto [cell_it, new_cell] = race.cells.try_emplace(key);
      if (new_cell) race.order.push_back(key);
      RaceData::Cell& cell = cell_it->second;
      if (cell.line.size() <= ci) cell.line.resize(ci + 1, 0);
      if (cell.line[ci] != 0) {
        TW_RETURN_IF_ERROR(
            fail(record_line, absl::InvalidArgumentError(
                                  absl::StrCat("second row for ", candidate, " in precinct ",
                                               precinct, " (first at line ", cell.line[ci], ")"))));
        continue;
      }
      // Vote-type columns: parse all before storing anything of this row.
      int64_t types[4] = {0, 0, 0, 0};
      bool has_types = false;
      absl::Status type_status;
      const Column type_cols[4] = {kEarly, kAbsentee, kElectionDay, kProvisional};
      for (int t = 0; t < 4 && type_status.ok(); ++t) {
        if (col[type_cols[t]] < 0) continue;
        absl::string_view raw = absl::StripAsciiWhitespace(f[col[type_cols[t]]]);
        if (raw.empty()) continue;
        absl::StatusOr<int64_t> v = ParseCount(raw, "vote-type count");
        if (!v.ok())
          type_status = v.status();
        else {
          types[t] = *v;
          has_types = true;
        }
      }
      if (!type_status.ok()) {
        TW_RETURN_IF_ERROR(fail(record_line, type_status));
        continue;
      }
      cell.line[ci] = record_line;
      Grow(cell.votes, ci + 1);
      cell.votes[ci] = *votes;
      if (has_types) {
        cell.has_types = true;
        for (auto* v : {&cell.early, &cell.absentee, &cell.eday, &cell.prov}) Grow(*v, ci + 1);
        cell.early[ci] = types[0];
        cell.absentee[ci] = types[1];
        cell.eday[ci] = types[2];
        cell.prov[ci] = types[3];
      }
      PrecinctData& pd = precincts[key];
      if (pd.file.empty()) {
        pd.file = file;
        pd.first_order = precinct_seq++;
      }
      precinct_version[key] = version;
    }
    if (header) return absl::InvalidArgumentError(absl::StrCat(path, ": empty file, no header"));
  }

  Feed feed;
  for (const std::string& race_id : race_order) {
    RaceData& race = races[race_id];
    const size_t k = race.candidates.size();
    RaceDefinitionEvent def;
    def.race_id = race_id;
    def.name = race.district.empty() ? race.office : absl::StrCat(race.office, " ", race.district);
    def.candidates = race.candidates;
    def.majority_threshold_bp = options.majority_threshold_bp;
    def.version = max_version;
    def.source = absl::StrCat("openelections:", absl::StrJoin(files, ","));
    std::map<std::string, std::vector<int64_t>> county_sums;
    for (const PrecinctKey& key : race.order) {
      RaceData::Cell& cell = race.cells[key];
      const PrecinctData& pd = precincts[key];
      const std::string precinct_id =
          key.county.empty() ? key.precinct : absl::StrCat(key.county, "/", key.precinct);
      def.precincts.push_back({precinct_id, key.precinct, key.county, pd.registered});
      TallyEvent t;
      t.race_id = race_id;
      t.precinct_id = precinct_id;
      t.precinct_name = key.precinct;
      t.county = key.county;
      t.version = precinct_version[key];
      t.event_time_ms = static_cast<int64_t>(t.version) * 1000;
      Grow(cell.votes, k);
      t.votes = cell.votes;
      if (cell.has_types) {
        for (auto* v : {&cell.early, &cell.absentee, &cell.eday, &cell.prov}) Grow(*v, k);
        t.by_type = VoteTypeBreakdown{cell.early, cell.absentee, cell.eday, cell.prov};
      }
      t.ballots_cast = pd.ballots;
      t.registered_voters = pd.registered;
      t.complete = true;  // a certified/canvassed file reports whole precincts
      t.source = absl::StrCat("openelections:", pd.file);
      std::vector<int64_t>& sum = county_sums[key.county];
      Grow(sum, k);
      for (size_t c = 0; c < k; ++c) sum[c] += t.votes[c];
      feed.tallies.push_back(std::move(t));
    }
    // Cross-check the county summary rows: a feed that disagrees with itself
    // is worth a line in the report.
    for (const auto& [county, by_cand] : race.summaries) {
      std::vector<int64_t>& sum = county_sums[county];
      Grow(sum, k);
      std::vector<std::string> diffs;
      for (const auto& [ci, v] : by_cand) {
        if (sum[ci] != v) {
          diffs.push_back(
              absl::StrCat(race.candidates[ci].name, " summary ", v, " precincts ", sum[ci]));
        }
      }
      report->notes.push_back(
          absl::StrCat(race_id, " ", county, ": county summary ",
                       diffs.empty() ? "matches the precinct sums"
                                     : absl::StrCat("differs: ", absl::StrJoin(diffs, "; "))));
    }
    feed.races.push_back(std::move(def));
  }
  if (report->non_candidate_rows > 0) {
    report->notes.push_back(absl::StrCat(
        report->non_candidate_rows, " over/under-vote or total rows kept out of candidate votes"));
  }
  return feed;
}

}  // namespace tallywire
