// The HTTP face's JSON parses whatever the names hold: races whose
// candidate, precinct and county names carry quotes, backslashes, control
// characters and (in the second race) Latin-1 bytes, served over HTTP and
// parsed back by Python's json module.
#include "gtest/gtest.h"
#include "tests/json_parse_back.h"
#include "tests/pipeline/harness.h"

namespace tallywire::testing {
namespace {

Feed HostileFeed() {
  const std::string nasty = "\"Q\" back\\slash \x01\x1f tab\t nl\n \xe2\x80\xa8 Caf\xc3\xa9";
  Feed feed;
  for (const std::string id : {"json-nasty", "json-latin1"}) {
    const std::string name = id == std::string("json-latin1") ? "Caf\xe9 " + nasty : nasty;
    RaceDefinitionEvent r;
    r.race_id = id;
    r.name = "Race " + name;
    r.version = 1;
    r.candidates = {{"a", "Ann " + name, "D", {}}, {"b", "Bob", "R" + name, {}}};
    r.precincts = {{"p1", "Precinct " + name, "County " + name, 1000}, {"p2", "P2", "North", 500}};
    feed.races.push_back(r);
    for (const std::string p : {"p1", "p2"}) {
      TallyEvent t;
      t.race_id = id;
      t.precinct_id = p;
      t.version = 1;
      t.votes = {300, 200};
      t.ballots_cast = 500;
      t.complete = true;
      feed.tallies.push_back(t);
    }
  }
  return feed;
}

TEST(JsonHttp, RacesWithHostileNamesServeDocumentsThatParse) {
  auto p = Pipeline::Create();
  ASSERT_NE(p, nullptr);
  ServiceOptions opts = p->AggregatorOptions(1);
  opts.http_listen = "127.0.0.1:0";
  auto svc = AggregatorService::Start(opts);
  ASSERT_TRUE(svc.ok()) << svc.status();
  const int port = (*svc)->http_port();
  auto sent = PublishFeed(HostileFeed(), p->cfg, p->PublishOpts());
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(port, "/races/json-nasty").status == 200; },
                        absl::Seconds(60)));

  const HttpReply nasty = HttpGet(port, "/races/json-nasty");
  const auto [ok, back] = ParseJsonBack(nasty.body);
  ASSERT_TRUE(ok) << back << "\n" << nasty.body;
  EXPECT_NE(back.find("\"name\": \"Ann \\\"Q\\\" back\\\\slash \\u0001\\u001f tab\\t nl\\n "
                      "\\u2028 Caf\\u00e9\""),
            std::string::npos)
      << back;
  EXPECT_NE(back.find("\"name\": \"County \\\"Q\\\""), std::string::npos) << back;

  // Invalid UTF-8 is either served as U+FFFD or refused at the door (a
  // dead letter); what is served parses either way.
  const HttpReply latin1 = HttpGet(port, "/races/json-latin1");
  const auto [latin1_ok, latin1_back] = ParseJsonBack(latin1.body);
  EXPECT_TRUE(latin1_ok) << latin1_back << "\n" << latin1.body;
  if (latin1.status == 200) {
    EXPECT_NE(latin1_back.find("Ann Caf\\ufffd \\\"Q\\\""), std::string::npos) << latin1_back;
  }
  const HttpReply all = HttpGet(port, "/races");
  const auto [all_ok, all_back] = ParseJsonBack(all.body);
  EXPECT_TRUE(all_ok) << all_back << "\n" << all.body;
  EXPECT_NE(all_back.find("\"race_id\": \"json-nasty\""), std::string::npos);
  EXPECT_TRUE(ParseJsonBack(HttpGet(port, "/races/no-such-race").body).first);
  EXPECT_TRUE(ParseJsonBack(HttpGet(port, "/mentions").body).first);
  EXPECT_TRUE((*svc)->Stop().ok());
}

}  // namespace
}  // namespace tallywire::testing
