// The binary's contract: --help everywhere, clear errors and non-zero exits
// for unknown flags and missing values, a dry run that reads real files.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace {

struct CliRun {
  int code;
  std::string out;
};

CliRun Tallywire(const std::string& args) {
  const std::string cmd = std::string(TALLYWIRE_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* sub : {"demo", "broker", "topics", "produce", "aggregate", "alerts", "bench"}) {
    CliRun r = Tallywire(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub << ": " << r.out;
    EXPECT_NE(r.out.find(std::string("usage: tallywire ") + sub), std::string::npos) << r.out;
  }
  EXPECT_EQ(Tallywire("--help").code, 0);
}

// Bench flags are checked before any broker or input is touched.
TEST(Cli, BenchRefusesWhatItCannotRun) {
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"bench --mix 1", "want TALLIES:POSTS"},
           {"bench --mix 0:0 --events 10", "the event mix needs tallies or posts"},
           {"bench --duration 5 --events 10", "--duration S needs an offered rate"},
           {"bench --brokers 127.0.0.1:1 --duration 5", "--duration S needs an offered rate"},
           {"bench --rate -5", "--rate must be >= 0"}}) {
    CliRun r = Tallywire(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_NE(r.out.find(says), std::string::npos) << args << ": " << r.out;
  }
}

TEST(Cli, UnknownFlagsAndMissingValuesFail) {
  CliRun r = Tallywire("aggregate --no-such-flag");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("unknown flag --no-such-flag"), std::string::npos) << r.out;
  r = Tallywire("produce tallies --csv");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--csv needs a value"), std::string::npos) << r.out;
  r = Tallywire("nonsense");
  EXPECT_EQ(r.code, 2);
  r = Tallywire("aggregate -X");
  EXPECT_EQ(r.code, 2);
  r = Tallywire("aggregate -X no.such.property=1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("no.such.property"), std::string::npos) << r.out;
}

// `-threads 4` used to be a positional argument nobody read: the service ran
// one thread and exited 0. A single-dash word is a usage error.
TEST(Cli, SingleDashLongFlagIsAnError) {
  CliRun r = Tallywire("aggregate -threads 4 --print-config");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("-threads"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--threads"), std::string::npos) << r.out;  // the hint
  r = Tallywire("broker -partitions 2");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("-partitions"), std::string::npos) << r.out;
  // -X and -h keep working, -X in both spellings.
  r = Tallywire("aggregate -X linger.ms=4 -Xacks=all --print-config");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("linger.ms=4"), std::string::npos) << r.out;
  EXPECT_EQ(Tallywire("aggregate -h").code, 0);
}

TEST(Cli, NumbersAreRangeChecked) {
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"aggregate --threads 0", "--threads"},
           {"aggregate --threads 257", "1..256"},
           {"aggregate --threads=-1", "--threads"},
           {"aggregate --threads 99999999999999999999", "--threads"},
           {"aggregate --threads 4x", "--threads"},
           {"broker --partitions 0", "1..10000"},
           {"broker --partitions 10001", "--partitions"},
           {"topics create --brokers 127.0.0.1:1 --partitions 0", "1..10000"},
           {"topics create --brokers 127.0.0.1:1 --replication-factor 0", "--replication-factor"},
           {"produce tallies --synthetic april18 --dry-run --repeat 0", "--repeat"},
           {"produce tallies --synthetic april18 --dry-run --seed -1", "--seed"},
           {"produce posts --synthetic april18 --dry-run --count -5", "--count"},
           {"produce posts --synthetic april18 --dry-run --rate nan", "--rate"}}) {
    CliRun r = Tallywire(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.out;
    EXPECT_NE(r.out.find(says), std::string::npos) << args << ": " << r.out;
  }
}

std::string WritePosts(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  FILE* f = fopen(path.c_str(), "w");
  fputs(text.c_str(), f);
  fclose(f);
  return path;
}

// A dry run touches no broker: an unreachable one must not matter.
TEST(Cli, ProducePostsDryRunPublishesNothingAndSummarises) {
  const std::string path = WritePosts(
      "dry.jsonl",
      "{\"id\":\"1\",\"author\":\"a\",\"created_at\":\"2017-04-18T23:00:00Z\",\"text\":\"Ossoff!\"}"
      "\n"
      "{\"id\":\"2\",\"author\":\"b\",\"created_at\":1492556700000,\"text\":\"Handel\"}\n"
      "{\"id\":\"3\",\"author\":\"a\",\"created_at\":1492556460000,\"text\":\"again\"}\n");
  CliRun r = Tallywire("produce posts --dry-run --brokers 127.0.0.1:1 --jsonl " + path);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("produced posts"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 posts, 2 authors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2017-04-18T23:00:00Z .. 2017-04-18T23:05:00Z"), std::string::npos) << r.out;
  r = Tallywire("produce posts --dry-run --brokers 127.0.0.1:1 --synthetic april18 --count 50");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("50 posts"), std::string::npos) << r.out;
}

TEST(Cli, PrintConfigMergesFlagsAndMasksSecrets) {
  CliRun r =
      Tallywire("aggregate --brokers h:1 -X linger.ms=3 -Xsasl.password=s3cret --print-config");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("bootstrap.servers=h:1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("linger.ms=3"), std::string::npos);
  EXPECT_EQ(r.out.find("s3cret"), std::string::npos);
}

TEST(Cli, DryRunReadsTheRunoffFiles) {
  const std::string dir = std::string(TALLYWIRE_SOURCE_DIR) + "/data/ga06-2017-06-20-runoff/";
  CliRun r = Tallywire("produce tallies --dry-run --csv " + dir + "cobb.csv " + dir +
                       "dekalb.csv " + dir + "fulton.csv");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("208 precincts, ballots cast 260455"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("134799"), std::string::npos);
  EXPECT_NE(r.out.find("125517"), std::string::npos);
  EXPECT_NE(r.out.find("county summary row (Cobb, precinct \"TOTAL\")"), std::string::npos)
      << r.out;
}

TEST(Cli, MalformedCsvAbortsWithFileAndLine) {
  const std::string path = ::testing::TempDir() + "/cli_bad.csv";
  FILE* f = fopen(path.c_str(), "w");
  fputs("county,precinct,office,district,candidate,party,votes\nA,P,M,,X,,1.5\n", f);
  fclose(f);
  CliRun r = Tallywire("produce tallies --dry-run --csv " + path);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find(path + ":2: votes is not a whole number"), std::string::npos) << r.out;
  r = Tallywire("produce tallies --dry-run --on-error=skip --csv " + path);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("1 skipped"), std::string::npos) << r.out;
}

}  // namespace
