// Every JSON document tallywire writes parses, whatever bytes the names
// hold: each is parsed back by Python's json module, a reader we did not
// write.
#include <string>

#include "consumers/alerts/follow.h"
#include "consumers/service/service.h"
#include "consumers/tally/race.h"
#include "gtest/gtest.h"
#include "tests/json_parse_back.h"

namespace tallywire {
namespace {

struct Parsed {
  bool ok = false;
  std::string ascii;  // the document re-encoded by Python, ASCII only, or its error
};

Parsed ParseBack(const std::string& doc) {
  auto [ok, ascii] = ::tallywire::testing::ParseJsonBack(doc);
  return {ok, ascii};
}

// Latin-1 é, quotes, backslashes, every control character, DEL, a lone
// continuation byte, an overlong '/', a UTF-16 surrogate, a truncated
// sequence, a code point past U+10FFFF; and valid text that must survive.
const std::string kHostile = std::string("Caf\xe9 \"Q\" back\\slash \x01\x02\x1f\x7f tab\t nl\n ") +
                             std::string("\0", 1) +
                             " \x80 \xc0\xaf \xed\xa0\x80 \xe2\x82 \xf4\x90\x80\x80 " +
                             "Caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xe2\x80\xa8";

TEST(JsonOutput, RaceSnapshotWithHostileNamesParses) {
  RaceDefinitionEvent def;
  def.race_id = "race-" + kHostile;
  def.name = kHostile;
  def.candidates = {{"a" + kHostile, "Ann " + kHostile, "D\xe9", {}}, {"b", "Bob", "R", {}}};
  def.precincts = {{"p1" + kHostile, "P1 " + kHostile, "North " + kHostile, 1000},
                   {"p2", "P2", "Caf\xe9", 500}};
  auto model = RaceModel::FromEvent(def);
  ASSERT_TRUE(model.ok()) << model.status();
  RaceState race(*model);
  const std::string doc = RaceSnapshotJson(race.Snapshot());
  const Parsed p = ParseBack(doc);
  ASSERT_TRUE(p.ok) << p.ascii << "\n" << doc;
  // Invalid bytes become U+FFFD, valid text stays, escapes round-trip.
  EXPECT_NE(p.ascii.find("\"name\": \"Caf\\ufffd \\\"Q\\\" back\\\\slash \\u0001\\u0002\\u001f"),
            std::string::npos)
      << p.ascii;
  EXPECT_NE(p.ascii.find("Caf\\u00e9 \\u65e5 \\ud83d\\ude00 \\u2028"), std::string::npos)
      << p.ascii;
  EXPECT_NE(p.ascii.find("\"North Caf\\ufffd"), std::string::npos) << p.ascii;
  // The /races body: the snapshots of every race in one array.
  EXPECT_TRUE(ParseBack("[" + doc + "," + doc + "]").ok);
}

TEST(JsonOutput, AlertWithHostileTextParses) {
  AlertEvent a;
  a.id = kHostile;
  a.race_id = kHostile;
  a.candidate_id = kHostile;
  a.candidate_name = kHostile;
  a.source_topic = kHostile;
  a.previous_candidate_id = kHostile;
  a.message = kHostile;
  const std::string doc = AlertJson(a);
  const Parsed p = ParseBack(doc);
  ASSERT_TRUE(p.ok) << p.ascii << "\n" << doc;
  EXPECT_NE(p.ascii.find("\"message\": \"Caf\\ufffd \\\"Q\\\""), std::string::npos) << p.ascii;
}

}  // namespace
}  // namespace tallywire
