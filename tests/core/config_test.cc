#include "core/kafka/config.h"

#include <cstdio>
#include <fstream>

#include "gtest/gtest.h"

namespace tallywire::kafka {
namespace {

TEST(KafkaConfig, FlagsOverrideFileAndSecretsAreMasked) {
  const std::string path = ::testing::TempDir() + "/kafka.properties";
  std::ofstream(path) << "# comment\nbootstrap.servers=a:1\nsasl.password = hunter2\nlinger.ms=7\n";
  KafkaConfig cfg;
  ASSERT_TRUE(cfg.MergeFile(path).ok());
  ASSERT_TRUE(cfg.SetFromFlag("linger.ms=9").ok());
  EXPECT_EQ(cfg.Get("bootstrap.servers"), "a:1");
  EXPECT_EQ(cfg.Get("linger.ms"), "9");
  const std::string printed = cfg.Printable();
  EXPECT_EQ(printed.find("hunter2"), std::string::npos);
  EXPECT_NE(printed.find("sasl.password=******"), std::string::npos);
}

TEST(KafkaConfig, BadLinesNameFileAndLine) {
  const std::string path = ::testing::TempDir() + "/bad.properties";
  std::ofstream(path) << "linger.ms=1\nthis is not a setting\n";
  KafkaConfig cfg;
  absl::Status st = cfg.MergeFile(path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path + ":2:"), absl::string_view::npos);
}

TEST(KafkaConfig, UnknownPropertyFailsWithLibrdkafkasReason) {
  KafkaConfig cfg;
  cfg.Set("no.such.property", "1");
  auto conf = cfg.ToRdKafka();
  ASSERT_FALSE(conf.ok());
  EXPECT_NE(conf.status().message().find("no.such.property"), absl::string_view::npos);
}

}  // namespace
}  // namespace tallywire::kafka
