// Real Kafka only: interop with kcat (a client nobody here wrote).
#include <cstdio>
#include <fstream>
#include <sstream>

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
  auto alert = DecodeAlert(AsBytes(ss.str()));
  ASSERT_TRUE(alert.ok()) << alert.status() << " (" << ss.str().size() << " bytes)";
  EXPECT_EQ(View((*alert)->race_id()), "ga-06-2017-04-18");
  const auto dead = p->DeadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].value, "kcat garbage");
  EXPECT_EQ(dead[0].reason, "undecodable");
}

}  // namespace
}  // namespace tallywire::testing
