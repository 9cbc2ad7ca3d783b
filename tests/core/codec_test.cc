#include "core/codec.h"

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "gtest/gtest.h"

namespace tallywire {
namespace {

TallyEvent SampleTally() {
  TallyEvent t;
  t.race_id = "us-house-6";
  t.precinct_id = "Cobb/Addison 01";
  t.precinct_name = "Addison 01";
  t.county = "Cobb";
  t.version = 3;
  t.event_time_ms = 1497999600000;
  t.votes = {737, 571};
  t.by_type = VoteTypeBreakdown{{100, 200}, {10, 20}, {627, 351}, {0, 0}};
  t.ballots_cast = 1308;
  t.registered_voters = 2184;
  t.complete = true;
  t.source = "openelections:cobb.csv";
  return t;
}

RaceDefinitionEvent SampleRace() {
  RaceDefinitionEvent r;
  r.race_id = "us-house-6";
  r.name = "U.S. House 6";
  r.candidates = {{"karen-handel", "Karen Handel", "R", {"Handel"}},
                  {"jon-ossoff", "Jon Ossoff", "D", {"Ossoff", "#Ossoff"}}};
  r.majority_threshold_bp = 5000;
  r.precincts = {{"Cobb/Addison 01", "Addison 01", "Cobb", 2184}};
  r.version = 7;
  r.source = "test";
  return r;
}

PostEvent SamplePost() {
  return {
      "p1",  "realDonaldTrump", 1492511400000, "Force runoff! #GA06", "en", false, true, 10, 2, 1,
      "Cobb"};
}

AlertEvent SampleAlert() {
  AlertEvent a;
  a.id = "ga/threshold_down/jon-ossoff/5000/1";
  a.kind = wire::AlertKind::ThresholdCrossedDown;
  a.race_id = "ga";
  a.candidate_id = "jon-ossoff";
  a.candidate_name = "Jon Ossoff";
  a.threshold_bp = 5000;
  a.share_bp = 4993;
  a.votes = 100;
  a.total_votes = 200;
  a.precincts_reporting = 127;
  a.precincts_total = 208;
  a.event_time_ms = 1;
  a.produce_time_ms = 2;
  a.detect_time_ms = 3;
  a.source_topic = "tallies";
  a.source_partition = 1;
  a.source_offset = 42;
  a.message = "Jon Ossoff fell below 50.0 %";
  return a;
}

TEST(Codec, TallyRoundTrips) {
  const TallyEvent t = SampleTally();
  const std::string bytes = EncodeTally(t);
  auto decoded = DecodeTally(AsBytes(bytes));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(ToValue(**decoded), t);
  EXPECT_EQ(*IdentifyMessage(AsBytes(bytes)), MessageKind::kTally);
}

TEST(Codec, RaceDefinitionRoundTrips) {
  const std::string bytes = EncodeRaceDefinition(SampleRace());
  auto decoded = DecodeRaceDefinition(AsBytes(bytes));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(ToValue(**decoded), SampleRace());
}

TEST(Codec, PostRoundTrips) {
  const std::string bytes = EncodePost(SamplePost());
  auto decoded = DecodePost(AsBytes(bytes));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(ToValue(**decoded), SamplePost());
}

TEST(Codec, AlertRoundTrips) {
  const std::string bytes = EncodeAlert(SampleAlert());
  auto decoded = DecodeAlert(AsBytes(bytes));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(ToValue(**decoded), SampleAlert());
}

TEST(Codec, UnalignedInputIsRejectedUntilAligned) {
  const std::string bytes = EncodeTally(SampleTally());
  std::vector<uint64_t> storage(bytes.size() / 8 + 2);
  uint8_t* odd = reinterpret_cast<uint8_t*>(storage.data()) + 1;  // as Kafka may hand it out
  std::memcpy(odd, bytes.data(), bytes.size());
  const absl::Span<const uint8_t> unaligned(odd, bytes.size());
  auto rejected = DecodeTally(unaligned);
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.status().message().find("aligned"), absl::string_view::npos);
  AlignedBytes aligner;
  auto decoded = DecodeTally(aligner.Align(unaligned));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(ToValue(**decoded), SampleTally());
}

// Found by fuzz/tally_stream: an empty payload at an odd address (an empty
// Kafka value may point anywhere) was copied with memcpy(nullptr, p, 0),
// undefined behaviour that UBSan stops on.
TEST(Codec, AlignOfAnEmptyUnalignedPayloadIsEmptyAndUndecodable) {
  const uint64_t storage[2] = {};
  const absl::Span<const uint8_t> empty(reinterpret_cast<const uint8_t*>(storage) + 3, 0);
  AlignedBytes aligner;
  const absl::Span<const uint8_t> aligned = aligner.Align(empty);
  EXPECT_TRUE(aligned.empty());
  EXPECT_FALSE(DecodeTally(aligned).ok());
  EXPECT_FALSE(IdentifyMessage(aligned).ok());
}

TEST(Codec, DecoderRejectsOtherTables) {
  const std::string post = EncodePost(SamplePost());
  EXPECT_FALSE(DecodeTally(AsBytes(post)).ok());
  EXPECT_FALSE(DecodeAlert(AsBytes(post)).ok());
  EXPECT_FALSE(DecodeRaceDefinition(AsBytes(post)).ok());
}

// The check ORs counts four at a time plus a remainder: a bad count is found
// in every position of a vector longer than one stride.
TEST(Codec, ABadCountIsFoundInEveryPositionOfA19CandidateTally) {
  TallyEvent t = SampleTally();
  t.by_type.reset();
  t.votes.assign(19, 1000);
  ASSERT_TRUE(DecodeTally(AsBytes(EncodeTally(t))).ok());
  for (size_t i = 0; i < t.votes.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "position " << i);
    for (int64_t bad : {int64_t{-1}, kMaxCount + 1}) {
      TallyEvent u = t;
      u.votes[i] = bad;
      EXPECT_FALSE(DecodeTally(AsBytes(EncodeTally(u))).ok());
    }
    TallyEvent edge = t;
    edge.votes[i] = kMaxCount;  // above the fast check's 2^29, still valid
    EXPECT_TRUE(DecodeTally(AsBytes(EncodeTally(edge))).ok());
  }
}

TEST(Codec, NegativeAndOverflowingCountsAreRejected) {
  TallyEvent t = SampleTally();
  t.votes[1] = -5;
  auto neg = DecodeTally(AsBytes(EncodeTally(t)));
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.status().message().find("negative votes"), absl::string_view::npos);
  t.votes[1] = kMaxCount + 1;
  EXPECT_FALSE(DecodeTally(AsBytes(EncodeTally(t))).ok());
  t.votes[1] = kMaxCount;  // the bound itself is a count
  EXPECT_TRUE(DecodeTally(AsBytes(EncodeTally(t))).ok());
  t.votes[1] = INT64_MIN;  // wraps to the largest unsigned value, not to a small one
  EXPECT_FALSE(DecodeTally(AsBytes(EncodeTally(t))).ok());
  t = SampleTally();
  ASSERT_TRUE(t.by_type.has_value());
  t.by_type->absentee.back() = -1;
  auto bad_type = DecodeTally(AsBytes(EncodeTally(t)));
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("negative absentee votes"), absl::string_view::npos)
      << bad_type.status();
  t = SampleTally();
  t.by_type->early = {1};  // wrong length
  EXPECT_FALSE(DecodeTally(AsBytes(EncodeTally(t))).ok());
  t = SampleTally();
  t.ballots_cast = -2;
  EXPECT_FALSE(DecodeTally(AsBytes(EncodeTally(t))).ok());
}

// Truncated, bit-flipped, random and oversized buffers: every decoder
// returns a Status and never crashes (run under ASan in CI).
TEST(Codec, HostileBuffersGiveStatusNotCrash) {
  const std::vector<std::string> valid = {EncodeTally(SampleTally()),
                                          EncodeRaceDefinition(SampleRace()),
                                          EncodePost(SamplePost()), EncodeAlert(SampleAlert())};
  auto all_decoders = [](absl::Span<const uint8_t> b) {
    int ok = 0;
    ok += DecodeTally(b).ok();
    ok += DecodeRaceDefinition(b).ok();
    ok += DecodePost(b).ok();
    ok += DecodeAlert(b).ok();
    (void)IdentifyMessage(b);
    return ok;
  };
  std::mt19937_64 rng(42);
  int accepted = 0;
  for (const std::string& v : valid) {
    for (size_t len = 0; len < v.size(); ++len) {  // every truncation
      // Cutting only trailing alignment padding may leave a valid buffer; it
      // must then decode to the very same values, never to other data.
      const std::string cut = v.substr(0, len);
      if (all_decoders(AsBytes(cut)) == 0) continue;
      if (auto t = DecodeTally(AsBytes(cut)); t.ok()) {
        EXPECT_EQ(ToValue(**t), SampleTally());
      }
      if (auto r = DecodeRaceDefinition(AsBytes(cut)); r.ok()) {
        EXPECT_EQ(ToValue(**r), SampleRace());
      }
      if (auto p = DecodePost(AsBytes(cut)); p.ok()) {
        EXPECT_EQ(ToValue(**p), SamplePost());
      }
      if (auto a = DecodeAlert(AsBytes(cut)); a.ok()) {
        EXPECT_EQ(ToValue(**a), SampleAlert());
      }
      EXPECT_GE(len, v.size() - 8) << "a truncation deep into the buffer verified";
    }
    for (int i = 0; i < 3000; ++i) {  // random bit flips keep the identifier often
      std::string m = v;
      for (int f = 0; f < 1 + static_cast<int>(rng() % 4); ++f) {
        m[rng() % m.size()] ^= static_cast<char>(1 << (rng() % 8));
      }
      accepted += all_decoders(AsBytes(m));  // may be valid; must not crash
    }
  }
  for (int i = 0; i < 2000; ++i) {
    std::string r(rng() % 512, '\0');
    for (char& c : r) c = static_cast<char>(rng());
    EXPECT_EQ(all_decoders(AsBytes(r)), 0);
  }
  std::string oversized = valid[0];
  oversized.resize(kMaxMessageBytes + 1);
  auto big = DecodeTally(AsBytes(oversized));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("too large"), absl::string_view::npos);
  RecordProperty("bit_flips_still_valid", accepted);
}

// Golden vectors: bytes written by the first version of each schema. A
// schema change that breaks them fails here (see schemas/README.md).
std::string ReadGolden(const std::string& name) {
  std::ifstream in(std::string(TALLYWIRE_SOURCE_DIR) + "/tests/golden/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Codec, GoldenVectorsStillDecode) {
  if (const char* dir = std::getenv("TALLYWIRE_WRITE_GOLDEN")) {
    for (auto [name, bytes] : {std::pair{"tally.bin", EncodeTally(SampleTally())},
                               {"race.bin", EncodeRaceDefinition(SampleRace())},
                               {"post.bin", EncodePost(SamplePost())},
                               {"alert.bin", EncodeAlert(SampleAlert())}}) {
      std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << bytes;
    }
  }
  const std::string tally = ReadGolden("tally.bin"), race = ReadGolden("race.bin"),
                    post = ReadGolden("post.bin"), alert = ReadGolden("alert.bin");
  ASSERT_FALSE(tally.empty());
  auto t = DecodeTally(AsBytes(tally));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(ToValue(**t), SampleTally());
  auto r = DecodeRaceDefinition(AsBytes(race));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ToValue(**r), SampleRace());
  auto p = DecodePost(AsBytes(post));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(ToValue(**p), SamplePost());
  auto a = DecodeAlert(AsBytes(alert));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(ToValue(**a), SampleAlert());
}

}  // namespace
}  // namespace tallywire
