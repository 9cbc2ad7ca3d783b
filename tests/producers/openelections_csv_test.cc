#include "producers/tally/openelections_csv.h"

#include <fstream>

#include "gtest/gtest.h"

namespace tallywire {
namespace {

const std::string kRunoff = std::string(TALLYWIRE_SOURCE_DIR) + "/data/ga06-2017-06-20-runoff/";

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(OpenElectionsCsv, RunoffFilesGiveCertifiedTotals) {
  CsvReport report;
  auto feed =
      ReadOpenElectionsCsv({kRunoff + "cobb.csv", kRunoff + "dekalb.csv", kRunoff + "fulton.csv"},
                           {.version = 1}, &report);
  ASSERT_TRUE(feed.ok()) << feed.status();
  ASSERT_EQ(feed->races.size(), 1u);
  const RaceDefinitionEvent& race = feed->races[0];
  EXPECT_EQ(race.race_id, "us-house-6");
  ASSERT_EQ(race.candidates.size(), 2u);
  EXPECT_EQ(race.candidates[0].name, "Karen Handel");
  EXPECT_EQ(race.candidates[1].name, "Jon Ossoff");
  EXPECT_EQ(race.precincts.size(), 208u);
  int64_t registered = 0;
  std::map<std::string, int> per_county;
  for (const PrecinctInfo& p : race.precincts) {
    registered += p.registered_voters;
    ++per_county[p.county];
  }
  EXPECT_EQ(registered, 447826);
  EXPECT_EQ(per_county["Cobb"], 50);
  EXPECT_EQ(per_county["DeKalb"], 43);
  EXPECT_EQ(per_county["Fulton"], 115);
  const ExpectedRace e = ExpectedTotals(*feed)[0];
  EXPECT_EQ(e.votes[0], 134799);
  EXPECT_EQ(e.votes[1], 125517);
  EXPECT_EQ(e.ballots_cast, 260455);
  EXPECT_EQ(e.precincts, 208);
  // TOTAL (Cobb, Fulton) and Total (DeKalb): recognised, checked, not published.
  EXPECT_EQ(report.summary_rows, 12);
  int matches = 0;
  for (const std::string& n : report.notes)
    matches += n.find("matches the precinct sums") != std::string::npos;
  EXPECT_EQ(matches, 3);
  EXPECT_EQ(report.rows_skipped, 0);
}

TEST(OpenElectionsCsv, ColumnsAreFoundByHeaderNameInAnyOrder) {
  const std::string path =
      WriteFile("reordered.csv",
                "\xEF\xBB\xBFVotes,Candidate,Party,Precinct,County,Office,District,extra\r\n"
                "\"1,204\",\"Smith, Jane\",D,North 1,Adams,State Senate,12,x\r\n"
                "99,Bob Lee,R,North 1,Adams,State Senate,12,y\r\n"
                "5,Over Votes,,North 1,Adams,State Senate,12,z\r\n");
  CsvReport report;
  auto feed = ReadOpenElectionsCsv({path}, {.version = 2}, &report);
  ASSERT_TRUE(feed.ok()) << feed.status();
  ASSERT_EQ(feed->races.size(), 1u);
  EXPECT_EQ(feed->races[0].race_id, "state-senate-12");
  ASSERT_EQ(feed->races[0].candidates.size(), 2u);
  EXPECT_EQ(feed->races[0].candidates[0].name, "Smith, Jane");
  ASSERT_EQ(feed->tallies.size(), 1u);
  EXPECT_EQ(feed->tallies[0].votes, (std::vector<int64_t>{1204, 99}));
  EXPECT_EQ(feed->tallies[0].version, 2u);
  EXPECT_EQ(report.non_candidate_rows, 1);
  bool ignored_noted = false;
  for (const auto& n : report.notes)
    ignored_noted |= n.find("ignored column(s) extra") != std::string::npos;
  EXPECT_TRUE(ignored_noted);
}

TEST(OpenElectionsCsv, VoteTypeColumnsBecomeTheBreakdown) {
  const std::string path = WriteFile("types.csv",
                                     "county,precinct,office,district,candidate,party,votes,early_"
                                     "voting,election_day,absentee,provisional\n"
                                     "A,P1,President,,X,D,10,4,5,1,0\n"
                                     "A,P1,President,,Y,R,7,1,6,0,\n");
  CsvReport report;
  auto feed = ReadOpenElectionsCsv({path}, {.version = 1}, &report);
  ASSERT_TRUE(feed.ok()) << feed.status();
  ASSERT_TRUE(feed->tallies[0].by_type.has_value());
  EXPECT_EQ(feed->tallies[0].by_type->early, (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(feed->tallies[0].by_type->election_day, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(feed->tallies[0].by_type->provisional, (std::vector<int64_t>{0, 0}));
}

TEST(OpenElectionsCsv, MalformedLineNamesFileAndLineAndAborts) {
  const std::string path = WriteFile("bad.csv",
                                     "county,precinct,office,district,candidate,party,votes\n"
                                     "A,P1,Mayor,,X,,10\n"
                                     "A,P1,Mayor,,Y,,ten\n");
  CsvReport report;
  auto feed = ReadOpenElectionsCsv({path}, {.version = 1}, &report);
  ASSERT_FALSE(feed.ok());
  EXPECT_NE(feed.status().message().find(path + ":3: votes is not a whole number"),
            absl::string_view::npos)
      << feed.status();
}

TEST(OpenElectionsCsv, SkipModeCountsBadRowsAndKeepsTheRest) {
  const std::string path = WriteFile("skip.csv",
                                     "county,precinct,office,district,candidate,party,votes\n"
                                     "A,P1,Mayor,,X,,10\n"
                                     "A,P1,Mayor,,Y,,-3\n"
                                     "A,P1,Mayor,,Z\n"
                                     "A,P2,Mayor,,X,,\n"
                                     "A,P2,Mayor,,X,,4\n"
                                     "A,P2,Mayor,,X,,5\n"
                                     "A,P3,Mayor,,Y,,\"7\n");
  CsvReport report;
  auto feed = ReadOpenElectionsCsv({path}, {.on_error = OnError::kSkip, .version = 1}, &report);
  ASSERT_TRUE(feed.ok()) << feed.status();
  EXPECT_EQ(report.rows_skipped, 5);
  ASSERT_EQ(report.errors.size(), 5u);
  EXPECT_NE(report.errors[0].find(":3: negative votes"), std::string::npos) << report.errors[0];
  EXPECT_NE(report.errors[1].find(":4: expected 7 fields, got 5"), std::string::npos)
      << report.errors[1];
  EXPECT_NE(report.errors[2].find(":5: empty votes"), std::string::npos) << report.errors[2];
  EXPECT_NE(report.errors[3].find(":7: second row for X in precinct P2 (first at line 6)"),
            std::string::npos)
      << report.errors[3];
  EXPECT_NE(report.errors[4].find(":8: unterminated quoted field"), std::string::npos)
      << report.errors[4];
  const ExpectedRace e = ExpectedTotals(*feed)[0];
  EXPECT_EQ(e.votes[0], 14);  // X: 10 (P1) + 4 (P2)
}

// RFC 4180: a quote inside an unquoted field is malformed. It is that line's
// error; the lines after it are read as they are, not swallowed into a field.
TEST(OpenElectionsCsv, StrayQuoteIsAnErrorOnItsLineOnly) {
  const std::string path = WriteFile("stray.csv",
                                     "county,precinct,office,district,candidate,party,votes\n"
                                     "A,P1,Mayor,,X,,10\n"
                                     "A,P2 \"North,Mayor,,X,,20\n"
                                     "A,P3,Mayor,,X,,30\n"
                                     "A,P4,Mayor,,X,,40\n");
  CsvReport report;
  auto aborted = ReadOpenElectionsCsv({path}, {.version = 1}, &report);
  ASSERT_FALSE(aborted.ok());
  EXPECT_NE(aborted.status().message().find(path + ":3: "), absl::string_view::npos)
      << aborted.status();
  EXPECT_NE(aborted.status().message().find("quote"), absl::string_view::npos) << aborted.status();

  CsvReport skip_report;
  auto feed =
      ReadOpenElectionsCsv({path}, {.on_error = OnError::kSkip, .version = 1}, &skip_report);
  ASSERT_TRUE(feed.ok()) << feed.status();
  EXPECT_EQ(skip_report.rows_skipped, 1);
  ASSERT_EQ(skip_report.errors.size(), 1u);
  EXPECT_NE(skip_report.errors[0].find(path + ":3: "), std::string::npos) << skip_report.errors[0];
  ASSERT_EQ(feed->tallies.size(), 3u);  // P1, P3, P4
  EXPECT_EQ(ExpectedTotals(*feed)[0].votes[0], 80);
}

// A quoted field may still span lines; text after its closing quote may not.
TEST(OpenElectionsCsv, QuotedNewlinesStayAndTextAfterAClosingQuoteIsAnError) {
  const std::string path = WriteFile("multiline.csv",
                                     "county,precinct,office,district,candidate,party,votes\n"
                                     "A,\"P1\nannex\",Mayor,,X,,10\n"
                                     "A,\"P2\"x,Mayor,,X,,20\n"
                                     "A,P3,Mayor,,\"Jo \"\"Ace\"\" Li\",,30\n");
  CsvReport report;
  auto feed = ReadOpenElectionsCsv({path}, {.on_error = OnError::kSkip, .version = 1}, &report);
  ASSERT_TRUE(feed.ok()) << feed.status();
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_NE(report.errors[0].find(path + ":4: "), std::string::npos) << report.errors[0];
  ASSERT_EQ(feed->tallies.size(), 2u);
  EXPECT_EQ(feed->tallies[0].precinct_name, "P1\nannex");
  ASSERT_EQ(feed->races[0].candidates.size(), 2u);
  EXPECT_EQ(feed->races[0].candidates[1].name, "Jo \"Ace\" Li");
}

TEST(OpenElectionsCsv, DuplicatedHeaderColumnIsAnErrorNamingFileAndColumn) {
  const std::string path = WriteFile("dup.csv",
                                     "county,precinct,office,district,candidate,party,votes,votes\n"
                                     "A,P1,Mayor,,X,,10,99\n");
  CsvReport report;
  auto feed = ReadOpenElectionsCsv({path}, {.on_error = OnError::kSkip, .version = 1}, &report);
  ASSERT_FALSE(feed.ok());
  EXPECT_NE(feed.status().message().find(path), absl::string_view::npos) << feed.status();
  EXPECT_NE(feed.status().message().find("\"votes\""), absl::string_view::npos) << feed.status();
  // Two spellings of one column are as ambiguous as one spelling twice.
  const std::string alias = WriteFile("alias.csv",
                                      "county,precinct,office,candidate,votes,Total Votes\n"
                                      "A,P1,Mayor,X,10,99\n");
  feed = ReadOpenElectionsCsv({alias}, {.version = 1}, &report);
  ASSERT_FALSE(feed.ok());
  EXPECT_NE(feed.status().message().find("\"Total Votes\""), absl::string_view::npos)
      << feed.status();
}

// Text that is not UTF-8 would make every JSON document that carries it
// invalid (/races); it stops at the reader, on its line.
TEST(OpenElectionsCsv, InvalidUtf8IsAnErrorNamingLineAndColumn) {
  const std::string path = WriteFile("latin1.csv",
                                     "county,precinct,office,district,candidate,party,votes,note\n"
                                     "A,P1,Mayor,,Caf\xe9,,10,\n"
                                     "A,P1,Mayor,,Y,,20,\xff\n"
                                     "A,P1,Mayor,,Z\xc3\xa9,,30,ok\n");
  CsvReport report;
  auto aborted = ReadOpenElectionsCsv({path}, {.version = 1}, &report);
  ASSERT_FALSE(aborted.ok());
  EXPECT_NE(aborted.status().message().find(path + ":2: invalid UTF-8 in column candidate"),
            absl::string_view::npos)
      << aborted.status();
  CsvReport skip_report;
  auto feed =
      ReadOpenElectionsCsv({path}, {.on_error = OnError::kSkip, .version = 1}, &skip_report);
  ASSERT_TRUE(feed.ok()) << feed.status();
  EXPECT_EQ(skip_report.rows_skipped, 2);
  ASSERT_EQ(skip_report.errors.size(), 2u);
  EXPECT_NE(skip_report.errors[1].find(path + ":3: invalid UTF-8 in column note"),
            std::string::npos)
      << skip_report.errors[1];
  ASSERT_EQ(feed->races[0].candidates.size(), 1u);
  EXPECT_EQ(feed->races[0].candidates[0].name, "Z\xc3\xa9");
}

TEST(OpenElectionsCsv, CountsStayExactIntegers) {
  const std::string path = WriteFile("big.csv",
                                     "county,precinct,office,candidate,votes\n"
                                     "A,P1,Mayor,X,\"123,456,789\"\n"
                                     "A,P1,Mayor,Y,9007199254741\n");
  CsvReport report;
  auto feed = ReadOpenElectionsCsv({path}, {.on_error = OnError::kSkip, .version = 1}, &report);
  ASSERT_TRUE(feed.ok()) << feed.status();
  EXPECT_EQ(feed->tallies[0].votes[0], 123456789);
  EXPECT_EQ(report.rows_skipped, 1);  // 13 digits: not a count, never rounded
}

TEST(OpenElectionsCsv, MissingRequiredColumnIsAnError) {
  const std::string path = WriteFile("nohdr.csv", "county,precinct,office,candidate\nA,P,M,X\n");
  CsvReport report;
  auto feed = ReadOpenElectionsCsv({path}, {}, &report);
  ASSERT_FALSE(feed.ok());
  EXPECT_NE(feed.status().message().find("lacks required column(s) votes"),
            absl::string_view::npos);
}

// Found by fuzz/openelections_csv: the office slugged to "", and the race
// definition published for it was one every consumer rejects.
TEST(OpenElectionsCsv, OfficeWithoutLettersOrDigitsIsARowErrorNotAnEmptyRaceId) {
  const std::string path = WriteFile("office.csv",
                                     "county,precinct,office,district,candidate,party,votes\n"
                                     "A,P1,Mayor,,X,,10\n"
                                     "A,P1,\xE5\xB8\x82\xE9\x95\xB7,,Y,,7\n"
                                     "A,P1,--,,Z,,3\n");
  CsvReport report;
  auto feed = ReadOpenElectionsCsv({path}, {.on_error = OnError::kSkip, .version = 1}, &report);
  ASSERT_TRUE(feed.ok()) << feed.status();
  EXPECT_EQ(report.rows_skipped, 2);
  ASSERT_EQ(report.errors.size(), 2u);
  EXPECT_NE(report.errors[0].find(":3: office"), std::string::npos) << report.errors[0];
  EXPECT_NE(report.errors[1].find(":4: office \"--\" has no ASCII letter or digit"),
            std::string::npos)
      << report.errors[1];
  ASSERT_EQ(feed->races.size(), 1u);
  EXPECT_EQ(feed->races[0].race_id, "mayor");
}

TEST(OpenElectionsCsv, SlugMakesStableIds) {
  EXPECT_EQ(Slug("U.S. House"), "us-house");
  EXPECT_EQ(Slug("  Jon  Ossoff "), "jon-ossoff");
  EXPECT_EQ(Slug("O'Brien, Pat"), "obrien-pat");
}

}  // namespace
}  // namespace tallywire
