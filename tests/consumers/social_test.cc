// The social stages one by one: matching, top-K, sliding windows against a
// brute-force reference, burst detection.
#include <deque>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "absl/strings/escaping.h"
#include "consumers/alerts/burst.h"
#include "consumers/social/catalog.h"
#include "consumers/social/match.h"
#include "consumers/social/top_k.h"
#include "consumers/social/windows.h"
#include "gtest/gtest.h"

namespace tallywire {
namespace {

RaceDefinitionEvent Ga06() {
  RaceDefinitionEvent r;
  r.race_id = "ga-06";
  r.name = "GA-06";
  for (const char* name : {"Jon Ossoff", "Karen Handel", "Judson Hill", "Bob Gray",
                           "Mohammad Ali Bhuiyan", "Bruce LeVell", "Ragin Edwards Jr."}) {
    std::string id = name;
    for (char& c : id) c = c == ' ' ? '-' : static_cast<char>(std::tolower(c));
    r.candidates.push_back({.id = id, .name = name});
  }
  return r;
}

std::vector<std::string> Who(const MentionCatalog& c, absl::string_view text) {
  std::vector<int32_t> slots;
  c.matcher().Match(text, &slots);
  std::vector<std::string> out;
  for (int32_t s : slots) out.push_back(c.slots()[s].candidate_id);
  return out;
}

using V = std::vector<std::string>;

TEST(Matcher, NamesSurnamesHandlesAndHashtags) {
  const MentionCatalog c = MentionCatalog::With({}, Ga06(), {});
  EXPECT_EQ(Who(c, "Jon Ossoff leads"), V{"jon-ossoff"});
  EXPECT_EQ(Who(c, "ossoff leads"), V{"jon-ossoff"});
  EXPECT_EQ(Who(c, "Go @JonOssoff!"), V{"jon-ossoff"});
  EXPECT_EQ(Who(c, "#Ossoff #GA06"), V{"jon-ossoff"});
  EXPECT_EQ(Who(c, "OSSOFF vs HANDEL tonight"), (V{"jon-ossoff", "karen-handel"}));
  EXPECT_EQ(Who(c, "Handel's lead, Ossoff's hope."), (V{"jon-ossoff", "karen-handel"}));
  EXPECT_EQ(Who(c, "Jon-Ossoff"), V{"jon-ossoff"});
  EXPECT_EQ(Who(c, "Bhuiyan and LEVELL"), (V{"mohammad-ali-bhuiyan", "bruce-levell"}));
  EXPECT_EQ(Who(c, "Edwards spoke"), V{"ragin-edwards-jr."});  // suffix skipped
}

TEST(Matcher, AccentsMixedCaseAndPunctuation) {
  const MentionCatalog c = MentionCatalog::With({}, Ga06(), {});
  EXPECT_EQ(Who(c, "Óssoff gana"), V{"jon-ossoff"});
  EXPECT_EQ(Who(c, "O\xCC\x81ssoff (decomposed accent)"), V{"jon-ossoff"});
  EXPECT_EQ(Who(c, "HäNDEL?!"), V{"karen-handel"});
  EXPECT_EQ(Who(c, "\"ossoff\"..."), V{"jon-ossoff"});
  EXPECT_EQ(Who(c, "Ossoff\xF0\x9F\x8E\x89"), V{"jon-ossoff"});                 // emoji right after
  EXPECT_EQ(Who(c, "\xED\x9B\x84\xEB\xB3\xB4 Ossoff\xED\x9B\x84\xEB\xB3\xB4"),  // Hangul
            V{"jon-ossoff"});
}

TEST(Matcher, SubstringsAreNotMentions) {
  const MentionCatalog c = MentionCatalog::With({}, Ga06(), {});
  EXPECT_EQ(Who(c, "Hillary was not on the ballot"), V{});
  EXPECT_EQ(Who(c, "uphill battle, Hillsborough"), V{});
  EXPECT_EQ(Who(c, "Handelsblatt reports; graying voters"), V{});
  EXPECT_EQ(Who(c, "Judson Hill"), V{"judson-hill"});
  EXPECT_EQ(Who(c, "Hill."), V{"judson-hill"});
  EXPECT_EQ(Who(c, ""), V{});
}

TEST(Matcher, ConfiguredTermsAndSeveralRaces) {
  RaceDefinitionEvent other;
  other.race_id = "ga-gov";
  other.candidates.push_back({.id = "stacey-abrams", .name = "Stacey Abrams"});
  const MentionCatalog one = MentionCatalog::With({}, Ga06(), {{"jon-ossoff", {"#flipthe6th"}}});
  const MentionCatalog two = MentionCatalog::With(one, other, {});
  EXPECT_EQ(Who(two, "#FlipThe6th with Abrams"), (V{"jon-ossoff", "stacey-abrams"}));
  // Slots of the first race keep their numbers.
  for (size_t i = 0; i < one.slots().size(); ++i) EXPECT_EQ(one.slots()[i], two.slots()[i]);
  EXPECT_EQ(two.SlotsOf("ga-gov"), std::vector<int32_t>{static_cast<int32_t>(one.slots().size())});
  // Redefining a known race adds nothing.
  EXPECT_EQ(MentionCatalog::With(two, Ga06(), {}).slots().size(), two.slots().size());
}

// Found by fuzz/mention_catalog: each line was read through a view of a
// temporary copy, freed before use (ASan: heap-use-after-free), so any line
// longer than the short-string buffer read freed memory.
TEST(Matcher, TermsFileWithCommentsAndLongLines) {
  const std::string path = ::testing::TempDir() + "/terms.txt";
  std::ofstream(path) << "# configured terms, one candidate a line\n"
                         "jon-ossoff: Ossoff2017, flip the sixth district   # slogans\n"
                         "\n"
                         "  karen-handel :Handel4Congress,, \n";
  absl::StatusOr<ExtraTerms> terms = LoadExtraTerms(path);
  ASSERT_TRUE(terms.ok()) << terms.status();
  EXPECT_EQ(terms->size(), 2u);
  EXPECT_EQ((*terms)["jon-ossoff"],
            (std::vector<std::string>{"Ossoff2017", "flip the sixth district"}));
  EXPECT_EQ((*terms)["karen-handel"], (std::vector<std::string>{"Handel4Congress"}));
}

TEST(Matcher, Hashtags) {
  std::vector<std::string> tags;
  ExtractHashtags("#GA06 vote! #ga06 #Résistance #GA_06 # #", &tags);
  EXPECT_EQ(tags, (V{"#ga06", "#resistance", "#ga_06"}));
  ExtractHashtags("#aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &tags);
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].size(), kMaxHashtagBytes);
}

// The first implementation, a character at a time through std::string,
// kept as the oracle for the table-driven one in match.cc.
namespace oracle {

constexpr char kLatinFold[] =
    "aaaaaaaceeeeiiiidnooooo ouuuuyts"  // U+00C0
    "aaaaaaaceeeeiiiidnooooo ouuuuyty"  // U+00E0
    "aaaaaaccccccccdd"                  // U+0100
    "ddeeeeeeeeeegggg"                  // U+0110
    "gggghhhhiiiiiiii"                  // U+0120
    "iiiijjkkklllllll"                  // U+0130
    "lllnnnnnnnnnoooo"                  // U+0140
    "oooorrrrrrssssss"                  // U+0150
    "ssttttttuuuuuuuu"                  // U+0160
    "uuuuwwyyyzzzzzzs";                 // U+0170
static_assert(sizeof(kLatinFold) - 1 == 0x180 - 0xC0);

enum class Kind { kLetter, kBoundary, kIgnore };

Kind FoldOne(absl::string_view text, size_t* pos, std::string* out) {
  const auto c = static_cast<unsigned char>(text[*pos]);
  if (c < 0x80) {
    ++*pos;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out->push_back(static_cast<char>(c));
      return Kind::kLetter;
    }
    if (c >= 'A' && c <= 'Z') {
      out->push_back(static_cast<char>(c - 'A' + 'a'));
      return Kind::kLetter;
    }
    return Kind::kBoundary;
  }
  const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (n == 0 || *pos + n > text.size()) {  // stray continuation or cut short
    ++*pos;
    return Kind::kBoundary;
  }
  uint32_t cp = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(text[*pos + k]);
    if ((cc & 0xC0) != 0x80) {
      ++*pos;
      return Kind::kBoundary;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  const absl::string_view raw = text.substr(*pos, n);
  *pos += n;
  if (cp >= 0xC0 && cp < 0x180) {
    const char base = kLatinFold[cp - 0xC0];
    if (base == ' ') return Kind::kBoundary;
    out->push_back(base);
    return Kind::kLetter;
  }
  if (cp >= 0x300 && cp < 0x370) return Kind::kIgnore;  // combining accents
  // Other alphabets are letters; punctuation, symbols, emoji and scripts
  // written without spaces (kana, CJK, Hangul) separate words.
  const bool letter = (cp >= 0x180 && cp < 0x2000) || (cp >= 0x2C00 && cp < 0x2E00) ||
                      (cp >= 0xA640 && cp < 0xA800);
  if (!letter) return Kind::kBoundary;
  out->append(raw.data(), raw.size());
  return Kind::kLetter;
}

void Fold(absl::string_view text, std::string* out) {
  const size_t start = out->size();
  size_t pos = 0;
  while (pos < text.size()) {
    if (FoldOne(text, &pos, out) == Kind::kBoundary && out->size() > start && out->back() != ' ') {
      out->push_back(' ');
    }
  }
}

void Hashtags(absl::string_view text, std::vector<std::string>* tags) {
  tags->clear();
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos++] != '#') continue;
    std::string tag = "#";
    while (pos < text.size()) {
      if (text[pos] == '_') {
        tag.push_back('_');
        ++pos;
        continue;
      }
      size_t next = pos;
      if (FoldOne(text, &next, &tag) == Kind::kBoundary) break;
      pos = next;
    }
    if (tag.size() > tallywire::kMaxHashtagBytes) {
      // Cut on a character boundary.
      size_t cut = tallywire::kMaxHashtagBytes;
      while (cut > 1 && (static_cast<unsigned char>(tag[cut]) & 0xC0) == 0x80) --cut;
      tag.resize(cut);
    }
    if (tag.size() > 1 && std::find(tags->begin(), tags->end(), tag) == tags->end()) {
      tags->push_back(std::move(tag));
    }
  }
}

}  // namespace oracle

// Random texts from pieces that exercise every branch: ASCII of each class,
// Latin letters and signs, combining accents, other alphabets, CJK, emoji,
// stray and cut-short sequences, '#', '_' and long tags near the cap.
std::string RandomText(std::mt19937_64& rng) {
  static const std::vector<std::string> pieces = {"a",
                                                  "Z",
                                                  "7",
                                                  " ",
                                                  ",",
                                                  "#",
                                                  "_",
                                                  "@",
                                                  "-",
                                                  "\'",
                                                  "Ossoff",
                                                  "HANDEL",
                                                  "ga06",
                                                  "\xC3\xA9",
                                                  "\xC3\x89",
                                                  "\xC3\x97",
                                                  "\xC3\xB7",
                                                  "\xC3\x9F",
                                                  "\xC5\x93",
                                                  "\xC5\xBF",
                                                  "\xCC\x81",
                                                  "\xCE\xB1",
                                                  "\xD0\x96",
                                                  "\xE4\xB8\xAD",
                                                  "\xED\x9B\x84",
                                                  "\xF0\x9F\x8E\x89",
                                                  "\x80",
                                                  "\xBF",
                                                  "\xC3",
                                                  "\xE4\xB8",
                                                  "\xF0\x9F\x8E",
                                                  "\xFF",
                                                  "\xC0\x41",
                                                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                                  "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"};
  std::string s;
  const size_t n = rng() % 24;
  for (size_t i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
  return s;
}

TEST(Matcher, FoldAndHashtagsEqualTheCharacterAtATimeOracle) {
  std::mt19937_64 rng(17);
  std::vector<std::string> tags, want_tags;
  for (int i = 0; i < 200000; ++i) {
    const std::string text = RandomText(rng);
    std::string got = "x", want = "x";  // both append
    FoldForMatching(text, &got);
    oracle::Fold(text, &want);
    ASSERT_EQ(got, want) << absl::CEscape(text);
    ExtractHashtags(text, &tags);
    oracle::Hashtags(text, &want_tags);
    ASSERT_EQ(tags, want_tags) << absl::CEscape(text);
  }
}

// The automaton against a brute-force search: a term is named when its
// folded form stands in the folded text between spaces or the ends.
TEST(Matcher, MatchEqualsBruteForceSearchOfTheFoldedText) {
  const std::vector<MentionTerm> terms = {{"Jon Ossoff", 0},   {"Ossoff", 0},
                                          {"Karen Handel", 1}, {"Handel", 1},
                                          {"Hill", 2},         {"Judson Hill", 2},
                                          {"Hill Ossoff", 3},  {"a", 4},
                                          {"aa a", 5},         {"Ó", 6}};
  const MentionMatcher m = MentionMatcher::Build(terms);
  static const std::vector<std::string> pieces = {
      "Jon", "Ossoff", "Karen", "Handel", "Hill",    "Judson",   "a",         "aa",
      " ",   "-",      "#",     "x",      "Hillary", "\xC3\x93", "O\xCC\x81", "\xE4\xB8\xAD"};
  std::mt19937_64 rng(23);
  std::vector<int32_t> got;
  for (int i = 0; i < 100000; ++i) {
    std::string text;
    for (size_t n = rng() % 12; n > 0; --n) text += pieces[rng() % pieces.size()];
    std::string folded = " ";
    FoldForMatching(text, &folded);
    folded += ' ';
    std::set<int32_t> want;
    for (const MentionTerm& t : terms) {
      std::string term;
      FoldForMatching(t.text, &term);
      if (folded.find(" " + term + " ") != std::string::npos) want.insert(t.target);
    }
    m.Match(text, &got);
    ASSERT_EQ(got, std::vector<int32_t>(want.begin(), want.end())) << absl::CEscape(text);
  }
}

TEST(Matcher, HashtagCapKeepsWholeCharactersAndNothingAfterTheFirstThatOverflows) {
  std::vector<std::string> tags;
  // '#' + 29 letters = 30 bytes; Greek alpha (2 bytes, kept unfolded) would
  // end at 32: dropped, and so are the '_' and the 'b' after it, which alone
  // would fit. ('é' would fit: it folds to one byte, 'e'.)
  ExtractHashtags("#" + std::string(29, 'a') + "\xCE\xB1_b next", &tags);
  EXPECT_EQ(tags, std::vector<std::string>{"#" + std::string(29, 'a')});
}

// Zipf-like stream: a few heavy items and a long tail.
std::vector<std::string> ZipfStream(int n, int vocabulary, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> w;
  for (int i = 1; i <= vocabulary; ++i) w.push_back(1.0 / i);
  std::discrete_distribution<int> pick(w.begin(), w.end());
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("#t" + std::to_string(pick(rng)));
  return out;
}

TEST(TopK, EveryItemAboveTheBoundIsReportedWithinItsBounds) {
  for (uint64_t seed : {1, 2, 3}) {
    const auto stream = ZipfStream(20000, 500, seed);
    std::map<std::string, int64_t> truth;
    std::vector<SpaceSaving> parts(4, SpaceSaving(16));
    for (size_t i = 0; i < stream.size(); ++i) {
      ++truth[stream[i]];
      parts[i % parts.size()].Add(stream[i]);
    }
    std::vector<TopK> summaries;
    for (const auto& p : parts) {
      summaries.push_back(p.Summary());
      EXPECT_LE(summaries.back().floor, 5000 / 16);  // N_part / k
    }
    for (size_t limit : {size_t{0}, size_t{10}}) {
      std::vector<const TopK*> ptrs;
      for (const auto& s : summaries) ptrs.push_back(&s);
      const TopK merged = MergeTopK(ptrs, limit);
      EXPECT_EQ(merged.total, 20000);
      std::map<std::string, const TopKItem*> listed;
      for (const auto& item : merged.items) listed[item.item] = &item;
      int heavy = 0;
      for (const auto& [item, count] : truth) {
        if (count > merged.floor) {
          ++heavy;
          ASSERT_TRUE(listed.count(item))
              << item << " count " << count << " floor " << merged.floor;
        }
        if (listed.count(item)) {
          EXPECT_LE(listed[item]->lower, count) << item;
          EXPECT_GE(listed[item]->upper, count) << item;
        }
      }
      EXPECT_GT(heavy, 0);  // the bound is not vacuous
    }
  }
}

// Brute force: the semantics of windows.h restated over a list of posts.
struct RefPost {
  uint64_t id;
  int64_t t;
  std::vector<int32_t> slots;
  std::vector<std::string> tags;
};

struct Reference {
  WindowOptions o;
  std::vector<RefPost> counted;
  std::set<uint64_t> seen;
  int64_t max_t = -1, posts = 0, late = 0, dups = 0;

  void Add(const RefPost& p) {
    if (!seen.insert(p.id).second) {
      ++dups;
      return;
    }
    ++posts;
    if (max_t >= 0 && p.t < max_t - absl::ToInt64Milliseconds(o.grace)) {
      ++late;
      return;
    }
    max_t = std::max(max_t, p.t);
    counted.push_back(p);
  }
  // Posts, mentions by slot and hashtag counts in window j.
  void Window(size_t j, int64_t* n, std::map<int32_t, int64_t>* mentions,
              std::map<std::string, int64_t>* tags) const {
    const int64_t b = absl::ToInt64Milliseconds(o.bucket);
    const int64_t span = (absl::ToInt64Milliseconds(o.spans[j]) + b - 1) / b;
    const int64_t head = max_t / b;
    *n = 0;
    for (const RefPost& p : counted) {
      if (p.t / b <= head - span || p.t / b > head) continue;
      ++*n;
      for (int32_t s : p.slots) ++(*mentions)[s];
      for (const auto& t : p.tags) ++(*tags)[t];
    }
  }
};

TEST(Windows, EqualBruteForceWithReorderedLateAndDuplicatePosts) {
  for (uint64_t seed : {7, 8, 9, 10}) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    WindowOptions o;
    o.bucket = absl::Seconds(1 + seed % 3);
    o.grace = absl::Seconds(20);
    // Odd seeds: a window shorter than the grace, so late posts fall behind it.
    if (seed % 2) o.spans = {absl::Seconds(15), absl::Minutes(1), absl::Minutes(5)};
    o.hashtag_capacity = 8;
    o.hashtag_limit = 5;
    MentionWindows w(o);
    Reference ref{o};
    const auto tags = ZipfStream(40000, 60, seed);
    int64_t clock = 1'492'500'000'000;  // April 2017, ms
    std::vector<RefPost> redeliver;
    for (int i = 0; i < 40000; ++i) {
      clock += std::uniform_int_distribution<int64_t>(0, 120)(rng);
      RefPost p{static_cast<uint64_t>(i) * 2654435761u + 1, clock, {}, {tags[i]}};
      const int r = std::uniform_int_distribution<int>(0, 99)(rng);
      if (r < 20) p.t -= std::uniform_int_distribution<int64_t>(0, 19'000)(rng);  // within grace
      if (r >= 97) p.t -= std::uniform_int_distribution<int64_t>(21'000, 600'000)(rng);  // late
      if (r % 7 == 0) redeliver.push_back(p);
      for (int32_t s = 0; s < 5; ++s) {
        if (std::uniform_int_distribution<int>(0, 4)(rng) <= s % 3) p.slots.push_back(s);
      }
      if (!redeliver.empty() && r % 5 == 0) {  // a duplicate shortly after
        RefPost d = redeliver.back();
        redeliver.pop_back();
        w.Add({d.id, d.t, d.slots, d.tags});
        ref.Add(d);
      }
      w.Add({p.id, p.t, p.slots, p.tags});
      ref.Add(p);
      if (i % 4999 != 0) continue;
      w.Publish();
      const MentionsView v = w.Read();
      EXPECT_EQ(v.posts, ref.posts);
      EXPECT_EQ(v.late, ref.late);
      EXPECT_EQ(v.duplicates, ref.dups);
      EXPECT_EQ(v.max_event_ms, ref.max_t);
      ASSERT_EQ(v.windows.size(), 3u);
      for (size_t j = 0; j < 3; ++j) {
        int64_t n = 0;
        std::map<int32_t, int64_t> mentions;
        std::map<std::string, int64_t> truth;
        ref.Window(j, &n, &mentions, &truth);
        EXPECT_EQ(v.windows[j].posts, n) << "window " << j << " at post " << i;
        for (int32_t s = 0; s < 5; ++s) {
          const int64_t got =
              static_cast<size_t>(s) < v.windows[j].mentions.size() ? v.windows[j].mentions[s] : 0;
          EXPECT_EQ(got, mentions[s]) << "window " << j << " slot " << s;
        }
        const TopK& top = v.windows[j].hashtags;
        EXPECT_EQ(top.total, n);
        EXPECT_LE(top.items.size(), o.hashtag_limit);
        for (const auto& [tag, count] : truth) {
          // Not the binding itself: C++20 lets a lambda capture one, clang 14 cannot.
          const auto& wanted = tag;
          const auto it = std::find_if(top.items.begin(), top.items.end(),
                                       [&](const TopKItem& x) { return x.item == wanted; });
          if (count > top.floor) {
            EXPECT_NE(it, top.items.end()) << tag << " " << count << " > floor " << top.floor;
          }
          if (it != top.items.end()) {
            EXPECT_LE(it->lower, count);
            EXPECT_GE(it->upper, count);
          }
        }
      }
      // Every bucket the ring still holds, as the burst detector reads it.
      const int64_t b = absl::ToInt64Milliseconds(o.bucket);
      ASSERT_FALSE(v.bucket_mentions.empty());
      EXPECT_EQ(v.bucket_ms, b);
      EXPECT_EQ(v.first_bucket + static_cast<int64_t>(v.bucket_mentions.size()) - 1, ref.max_t / b);
      std::map<int64_t, std::map<int32_t, int64_t>> by_bucket;
      for (const RefPost& p : ref.counted) {
        for (int32_t s : p.slots) ++by_bucket[p.t / b][s];
      }
      for (size_t k = 0; k < v.bucket_mentions.size(); ++k) {
        const int64_t index = v.first_bucket + static_cast<int64_t>(k);
        for (int32_t s = 0; s < 5; ++s) {
          const std::vector<int64_t>& got = v.bucket_mentions[k];
          EXPECT_EQ(static_cast<size_t>(s) < got.size() ? got[s] : 0, by_bucket[index][s])
              << "bucket " << index << " slot " << s;
        }
      }
    }
  }
}

TEST(Windows, MergedBucketsAreTheSumOfThePartitions) {
  MentionWindows whole({}), even({}), odd({});
  std::mt19937_64 rng(5);
  int64_t t = 1'492'500'000'000;
  for (uint64_t id = 1; id <= 5000; ++id) {
    t += std::uniform_int_distribution<int64_t>(0, 400)(rng);
    const std::vector<int32_t> slots = {static_cast<int32_t>(id % 3)};
    // The odd partition lags a little, as a slower consumer would.
    const int64_t at = id % 2 ? t - 3000 : t;
    whole.Add({.id_hash = id, .created_at_ms = at, .slots = slots});
    (id % 2 ? odd : even).Add({.id_hash = id, .created_at_ms = at, .slots = slots});
  }
  for (MentionWindows* w : {&whole, &even, &odd}) w->Publish();
  const MentionsView merged = MergeViews({even.Read(), odd.Read()}, 10);
  const MentionsView one = whole.Read();
  ASSERT_FALSE(merged.bucket_mentions.empty());
  EXPECT_EQ(merged.first_bucket, one.first_bucket);
  ASSERT_EQ(merged.bucket_mentions.size(), one.bucket_mentions.size());
  for (size_t k = 0; k < one.bucket_mentions.size(); ++k) {
    std::vector<int64_t> want = one.bucket_mentions[k], got = merged.bucket_mentions[k];
    want.resize(3, 0);
    got.resize(3, 0);
    EXPECT_EQ(got, want) << "bucket " << one.first_bucket + static_cast<int64_t>(k);
  }
}

TEST(Windows, ReadersSeeTheLastPublishedView) {
  MentionWindows w({});
  EXPECT_EQ(w.Read().posts, 0);
  const std::vector<int32_t> slots = {0};
  w.Add({.id_hash = 1, .created_at_ms = 1000, .slots = slots});
  EXPECT_EQ(w.Read().posts, 0);  // not yet published
  w.Publish();
  EXPECT_EQ(w.Read().posts, 1);
  EXPECT_EQ(w.Read().windows[0].mentions, std::vector<int64_t>{1});
}

// A seeded stream of mentions of slot 0: `per_minute` (Poisson) for the
// given minutes; returns alerts fired while it plays, the detector looking
// every `look_every_ms` of event time.
struct BurstRun {
  explicit BurstRun(int64_t look_every_ms = 5000) : look_every_ms(look_every_ms) {}
  int64_t look_every_ms;
  MentionWindows windows{{}};
  BurstDetector detector{BurstRules{}};
  std::vector<AlertEvent> fired;
  std::mt19937_64 rng{42};
  int64_t t = 1'492'500'000'000;
  int64_t next_look = t;
  uint64_t id = 0;
  const std::vector<MentionSlot> slots = {{"ga-06", "jon-ossoff", "Jon Ossoff"}};

  void Play(double per_minute, int minutes) {
    std::exponential_distribution<double> gap(per_minute / 60000.0);
    const std::vector<int32_t> s = {0};
    const int64_t end = t + minutes * 60000;
    while (t < end) {
      t += static_cast<int64_t>(gap(rng)) + 1;
      windows.Add({.id_hash = ++id, .created_at_ms = t, .slots = s});
      if (t >= next_look) Look();
    }
  }
  void Look() {
    windows.Publish();
    detector.Detect(windows.Read(), slots, t, &fired);
    next_look = t + look_every_ms;
  }
};

TEST(Burst, SteadyStreamFiresNone) {
  BurstRun run;
  run.Play(40, 60);
  EXPECT_TRUE(run.fired.empty()) << run.fired.front().message;
}

TEST(Burst, OneBurstFiresExactlyOneAlert) {
  BurstRun run;
  run.Play(40, 20);
  run.Play(400, 3);  // a famous account posts
  run.Play(40, 20);
  ASSERT_EQ(run.fired.size(), 1u);
  const AlertEvent& a = run.fired[0];
  EXPECT_EQ(a.kind, wire::AlertKind::SocialBurst);
  EXPECT_EQ(a.candidate_id, "jon-ossoff");
  EXPECT_GE(a.votes, 120);
  EXPECT_NE(a.message.find("Jon Ossoff mentioned"), std::string::npos) << a.message;
  // A second burst after the first has ended fires again.
  run.Play(400, 3);
  EXPECT_EQ(run.fired.size(), 2u);
}

// A replay or a catch-up can move event time minutes between two looks;
// the verdict must not depend on when the detector looked.
TEST(Burst, TheVerdictDoesNotDependOnHowOftenTheDetectorLooks) {
  BurstRun often;
  BurstRun rarely(/*look_every_ms=*/6 * 60000);  // longer than the burst
  for (BurstRun* run : {&often, &rarely}) {
    run->Play(40, 20);
    run->Play(400, 3);
    run->Play(40, 6);
    run->Look();
  }
  ASSERT_EQ(often.fired.size(), 1u);
  ASSERT_EQ(rarely.fired.size(), 1u);
  // The same bucket fired; a detector looking within it saw it part full.
  EXPECT_EQ(rarely.fired[0].id, often.fired[0].id);
  EXPECT_EQ(rarely.fired[0].event_time_ms / 5000, often.fired[0].event_time_ms / 5000);
  EXPECT_GE(rarely.fired[0].votes, often.fired[0].votes);
}

// Two partitions, one consumed three minutes of event time behind the
// other (a slower consumer): a bucket judged before the slow partition's
// posts reach it would count half a burst and miss it.
TEST(Burst, APartitionBehindTheOthersIsWaitedFor) {
  MentionWindows fast({}), slow({});
  BurstDetector detector{BurstRules{}};
  std::vector<AlertEvent> fired;
  const std::vector<MentionSlot> slots = {{"ga-06", "jon-ossoff", "Jon Ossoff"}};
  const std::vector<int32_t> s = {0};
  std::mt19937_64 rng(9);
  std::deque<std::pair<uint64_t, int64_t>> behind;  // the slow partition's backlog
  int64_t t = 1'492'500'000'000, next_look = t;
  uint64_t id = 0;
  auto play = [&](double per_minute, int minutes) {
    std::exponential_distribution<double> gap(per_minute / 60000.0);
    for (const int64_t end = t + minutes * 60000; t < end;) {
      t += static_cast<int64_t>(gap(rng)) + 1;
      if (++id % 2) {
        fast.Add({.id_hash = id, .created_at_ms = t, .slots = s});
      } else {
        behind.push_back({id, t});
      }
      while (!behind.empty() && behind.front().second <= t - 3 * 60000) {
        slow.Add(
            {.id_hash = behind.front().first, .created_at_ms = behind.front().second, .slots = s});
        behind.pop_front();
      }
      if (t >= next_look) {
        fast.Publish();
        slow.Publish();
        detector.Detect(MergeViews({fast.Read(), slow.Read()}, 10), slots, t, &fired);
        next_look = t + 5000;
      }
    }
  };
  play(40, 20);
  play(140, 3);  // 3.5x: fires on whole counts, not on half of them
  play(40, 10);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_GE(fired[0].votes, 3 * 40);
}

// A detector that first looks when the ring no longer holds the stream's
// beginning has no baseline for the oldest buckets: it must not call them
// bursts for want of one.
TEST(Burst, FirstLookLateInTheStreamFiresNothingWithoutABaseline) {
  BurstRun run(/*look_every_ms=*/60 * 60000);
  run.next_look = run.t + 30 * 60000;
  run.Play(40, 31);
  EXPECT_TRUE(run.fired.empty()) << run.fired.front().message;
}

TEST(Burst, QuietCandidateNeedsTheMinimumCount) {
  BurstRun run;
  run.Play(0.5, 20);
  run.Play(8, 3);  // 16x its baseline, but 8 a minute is no burst
  EXPECT_TRUE(run.fired.empty());
}

}  // namespace
}  // namespace tallywire
