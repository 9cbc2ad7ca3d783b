// Real Kafka only: interop with kcat (a client nobody here wrote).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "consumers/alerts/detect.h"
#include "consumers/tally/decode.h"
#include "gtest/gtest.h"
#include "producers/tally/synthetic_night.h"
#include "tests/pipeline/harness.h"

namespace tallywire::testing {
namespace {

int Shell(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WEXITSTATUS(st);
}

TEST(KafkaInterop, KcatReadsAlertsAndItsGarbageIsDeadLettered) {
  auto p = Pipeline::Create(1);
  ASSERT_NE(p, nullptr);
  const std::string brokers = p->cfg.Get("bootstrap.servers");
  auto svc = AggregatorService::Start(p->AggregatorOptions(1));
  ASSERT_TRUE(svc.ok()) << svc.status();
  auto sent = PublishFeed(GenerateApril18Night({}), p->cfg, p->PublishOpts());
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_EQ(Shell("printf 'kcat garbage' | kcat -P -b " + brokers + " -t " + p->topics.tallies +
                  " -p 0 -k junk"),
            0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return (*svc)->probe().consumed(SourceTopic::kTallies) >= sent->sent + 1 &&
               (*svc)->probe().dead_lettered() >= 1;
      },
      absl::Seconds(60)));
  ASSERT_TRUE((*svc)->Stop().ok());
  // kcat consumes one alert; its bytes decode with our schema.
  const std::string file = ::testing::TempDir() + "/kcat_alert.bin";
  ASSERT_EQ(Shell("kcat -C -b " + brokers + " -t " + p->topics.alerts +
                  " -o beginning -c 1 -e -f '%s' > " + file),
            0);
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  auto alert = DecodeAlert(AsBytes(bytes));
  ASSERT_TRUE(alert.ok()) << alert.status() << " (" << bytes.size() << " bytes)";
  EXPECT_EQ(View((*alert)->race_id()), "ga-06-2017-04-18");
  const auto dead = p->DeadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, "kcat garbage");
  EXPECT_EQ(dead[0].reason, "undecodable");
}

// Starts `tallywire ARGS...` with stdout and stderr to files; returns the pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  pid_t pid = fork();
  if (pid == 0) {
    freopen(out.c_str(), "w", stdout);
    freopen(err.c_str(), "w", stderr);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(TALLYWIRE_BINARY));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(TALLYWIRE_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid, int timeout_s) {
  for (int i = 0; i < timeout_s * 10; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    usleep(100000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

// A new directory per test run: output files of an earlier run must never
// be mistaken for this one's.
std::string FreshDir() {
  std::string tmpl = ::testing::TempDir() + "/tallywire-XXXXXX";
  return mkdtemp(tmpl.data());
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The alert ids a single, uninterrupted aggregator fires for this feed.
std::set<std::string> ReferenceAlertIds(const Feed& feed) {
  std::set<std::string> ids;
  AlertRules rules;
  for (const auto& def : feed.races) {
    auto model = *RaceModel::FromEvent(def);
    RaceState race(model);
    RaceDetector detector(rules, *model);
    std::vector<AlertEvent> alerts;
    for (const auto& t : feed.tallies) {
      if (t.race_id != def.race_id) continue;
      const std::string bytes = EncodeTally(t);
      auto d = DecodeTallyFor(AsBytes(bytes), [&](absl::string_view) { return &race; });
      if (d.ok() && race.Apply(d->update) == RaceState::Applied::kApplied) {
        detector.Detect(race, {}, &alerts);
      }
    }
    for (const auto& a : alerts) ids.insert(a.id);
  }
  return ids;
}

std::vector<std::string> AggregateArgs(const Pipeline& p, const std::string& group) {
  return {"aggregate",
          "--brokers",
          p.cfg.Get("bootstrap.servers"),
          "--group",
          group,
          "--tallies-topic",
          p.topics.tallies,
          "--alerts-topic",
          p.topics.alerts,
          "--dlq-topic",
          p.topics.dlq,
          "--races-topic",
          p.topics.races,
          "--changelog-topic",
          p.topics.changelog,
          "--repartition-topic",
          p.topics.repartition,
          "-X",
          "session.timeout.ms=6000",
          "-X",
          "heartbeat.interval.ms=500"};
}

TEST(KafkaOperations, KilledAggregatorsPartitionsAreTakenOverExactly) {
  auto p = Pipeline::Create(4);
  ASSERT_NE(p, nullptr);
  const Feed feed = GenerateScaleNight(
      {.races = 8, .precincts = 300, .candidates = 4, .versions = 4, .seed = 21});
  const std::string group = "kill-" + p->topics.tallies;
  const std::string dir = FreshDir();
  std::vector<std::string> a_args = AggregateArgs(*p, group), b_args = AggregateArgs(*p, group);
  b_args.insert(b_args.end(), {"--exit-when-idle", "8"});
  const pid_t a = Spawn(a_args, dir + "/agg_a.out", dir + "/agg_a.err");
  const pid_t b = Spawn(b_args, dir + "/agg_b.out", dir + "/agg_b.err");
  sleep(3);  // both join the group and split the partitions
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    sleep(3);  // mid-stream
    kill(a, SIGKILL);
    killed = true;
  });
  PublishOptions opts = p->PublishOpts();
  opts.rate = 1000;  // ~9.6 s of events
  auto sent = PublishFeed(feed, p->cfg, opts);
  killer.join();
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->failed, 0u);
  EXPECT_EQ(WaitExit(a, 5), 128 + SIGKILL);
  ASSERT_EQ(WaitExit(b, 120), 0) << Slurp(dir + "/agg_b.err");
  const std::string out = Slurp(dir + "/agg_b.out");
  const std::string b_log = Slurp(dir + "/agg_b.err");
  EXPECT_NE(b_log.find("partition_assigned"), std::string::npos);
  for (const ExpectedRace& e : ExpectedTotals(feed)) {
    const size_t at = out.find("{\"race_id\":\"" + e.race_id + "\"");
    ASSERT_NE(at, std::string::npos) << e.race_id << " missing from the survivor:\n" << out;
    const std::string line = out.substr(at, out.find('\n', at) - at);
    for (size_t c = 0; c < e.votes.size(); ++c) {
      EXPECT_NE(line.find(absl::StrCat("\"id\":\"c", c, "\",\"name\":\"Candidate ", c,
                                       "\",\"party\":\"\",\"votes\":", e.votes[c], ",")),
                std::string::npos)
          << e.race_id << " candidate " << c << ": " << line;
    }
    EXPECT_NE(line.find(absl::StrCat("\"precincts_reporting\":", e.precincts_complete)),
              std::string::npos);
  }
  // Every alert an uninterrupted run fires is on the topic (some twice at most).
  std::set<std::string> published;
  for (const auto& alert : p->Alerts()) published.insert(alert.id);
  for (const std::string& id : ReferenceAlertIds(feed)) {
    EXPECT_TRUE(published.count(id)) << "missing alert " << id;
  }
}

TEST(KafkaOperations, SigtermDrainsCommitsAndExitsZero) {
  auto p = Pipeline::Create(2);
  ASSERT_NE(p, nullptr);
  const std::string dir = FreshDir();
  const std::string group = "term-" + p->topics.tallies;
  auto sent = PublishFeed(GenerateApril18Night({}), p->cfg, p->PublishOpts());
  ASSERT_TRUE(sent.ok()) << sent.status();
  std::vector<std::string> args = AggregateArgs(*p, group);
  args.push_back("--log-json");
  const pid_t pid = Spawn(args, dir + "/term.out", dir + "/term.err");
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Slurp(dir + "/term.err").find("100 % of precincts reporting") != std::string::npos;
      },
      absl::Seconds(60)));
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid, 60), 0);
  EXPECT_NE(Slurp(dir + "/term.out").find(absl::StrCat("aggregate: consumed ", sent->sent, " ")),
            std::string::npos)
      << Slurp(dir + "/term.out");
  EXPECT_NE(Slurp(dir + "/term.err").find("{\"ts\":"), std::string::npos);  // --log-json
  // The group committed everything: a restart replays silently, fires nothing.
  const size_t alerts = p->Alerts().size();
  std::vector<std::string> again = AggregateArgs(*p, group);
  again.insert(again.end(), {"--exit-when-idle", "3"});
  const pid_t second = Spawn(again, dir + "/term2.out", dir + "/term2.err");
  EXPECT_EQ(WaitExit(second, 60), 0) << Slurp(dir + "/term2.err");
  EXPECT_EQ(p->Alerts().size(), alerts);
}

// Three brokers, replication factor 3, min.insync.replicas 2; one broker is
// killed mid-stream. Nothing is lost and the totals are exact.
TEST(KafkaOperations, ThreeBrokersSurviveOneKilledMidStream) {
  const std::string state = "/tmp/tallywire-test-kafka3";
  const char* port_env = std::getenv("TALLYWIRE_TEST_KAFKA3_PORT");
  const std::string port = port_env ? port_env : "29092";
  const std::string kafka = std::string(TALLYWIRE_SOURCE_DIR) + "/deploy/kafka/";
  const std::string boot_file = ::testing::TempDir() + "/boot3";
  ASSERT_EQ(
      Shell(kafka + "start --nodes 3 --port " + port + " --state-dir " + state + " > " + boot_file),
      0);
  std::string boot = Slurp(boot_file);
  boot = boot.substr(0, boot.find('\n'));
  setenv("TALLYWIRE_KAFKA_BROKERS", boot.c_str(), 1);
  auto p = Pipeline::Create(4, 3);
  ASSERT_NE(p, nullptr);
  Feed feed = GenerateApril18Night({});
  auto svc = AggregatorService::Start(p->AggregatorOptions(2));
  ASSERT_TRUE(svc.ok()) << svc.status();
  std::thread killer([&] {
    sleep(2);
    Shell(kafka + "stop --state-dir " + state + " --node 2 --signal KILL");
  });
  PublishOptions opts = p->PublishOpts();
  opts.rate = 100;  // ~4 s of events, the kill lands in the middle
  auto sent = PublishFeed(feed, p->cfg, opts);
  killer.join();
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->failed, 0u);
  EXPECT_EQ(sent->delivered, sent->sent);
  ASSERT_TRUE(
      WaitUntil([&] { return (*svc)->probe().consumed_new(SourceTopic::kTallies) >= sent->sent; },
                absl::Seconds(120)));
  const ExpectedRace e = ExpectedTotals(feed)[0];
  EXPECT_EQ((*svc)->races().Find(e.race_id)->Snapshot().votes, e.votes);
  ASSERT_TRUE((*svc)->Stop().ok());
  EXPECT_EQ((*svc)->probe().dead_lettered(), 0u);
  Shell(kafka + "stop --state-dir " + state);
}

}  // namespace
}  // namespace tallywire::testing
