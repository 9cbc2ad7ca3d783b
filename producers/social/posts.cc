#include "producers/social/posts.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/clock.h"
#include "core/kafka/client.h"
#include "core/status_macros.h"
#include "producers/tally/synthetic_night.h"

namespace tallywire {
namespace {

// ---- a strict reader for one flat JSON object -------------------------------
// Values: strings (all escapes, \u with surrogate pairs), numbers, true,
// false, null, and one level of nested object (for "counts"). Arrays are
// skipped. Enough for a post; not a general JSON library.
// Members are their own struct, not std::pair<std::string, JsonValue>: a
// vector may hold a type still incomplete (JsonValue is, inside itself), a
// pair may not, and clang with libstdc++ rejects the pair.
struct JsonMember;
struct JsonValue {
  enum Kind { kString, kNumber, kBool, kNull, kObject, kArray } kind = kNull;
  std::string text;  // string contents, or the number's literal
  bool boolean = false;
  std::vector<JsonMember> members;  // kObject
};
struct JsonMember {
  std::string key;
  JsonValue value;
};

class JsonReader {
 public:
  explicit JsonReader(absl::string_view s) : s_(s) {}

  absl::StatusOr<JsonValue> Document() {
    TW_ASSIGN_OR_RETURN(JsonValue v, Value(0));
    Space();
    if (i_ != s_.size()) return Error("trailing characters after the object");
    if (v.kind != JsonValue::kObject) return Error("expected a JSON object");
    return v;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(what, " (column ", i_ + 1, ")"));
  }
  void Space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool Eat(char c) {
    Space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  static void Utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  absl::StatusOr<uint32_t> Hex4() {
    if (i_ + 4 > s_.size()) return Error("short \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        v |= c - 'A' + 10;
      } else {
        return Error("bad \\u escape");
      }
    }
    return v;
  }
  absl::StatusOr<std::string> String() {
    if (!Eat('"')) return Error("expected a string");
    std::string out;
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in a string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) break;
      const char e = s_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          TW_ASSIGN_OR_RETURN(uint32_t cp, Hex4());
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') {
              return Error("unpaired surrogate");
            }
            i_ += 2;
            TW_ASSIGN_OR_RETURN(uint32_t lo, Hex4());
            if (lo < 0xDC00 || lo >= 0xE000) return Error("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return Error("unpaired surrogate");
          }
          Utf8(cp, &out);
          break;
        }
        default:
          return Error("bad escape");
      }
    }
    return Error("unterminated string");
  }
  absl::StatusOr<JsonValue> Value(int depth) {
    if (depth > 3) return Error("nested too deep");
    Space();
    if (i_ >= s_.size()) return Error("unexpected end of line");
    JsonValue v;
    const char c = s_[i_];
    if (c == '"') {
      v.kind = JsonValue::kString;
      TW_ASSIGN_OR_RETURN(v.text, String());
    } else if (c == '{' || c == '[') {
      const bool object = c == '{';
      v.kind = object ? JsonValue::kObject : JsonValue::kArray;
      ++i_;
      if (Eat(object ? '}' : ']')) return v;
      do {
        std::string key;
        if (object) {
          TW_ASSIGN_OR_RETURN(key, String());
          if (!Eat(':')) return Error("expected ':'");
        }
        TW_ASSIGN_OR_RETURN(JsonValue member, Value(depth + 1));
        if (object) v.members.push_back({std::move(key), std::move(member)});
      } while (Eat(','));
      if (!Eat(object ? '}' : ']')) return Error(object ? "expected ',' or '}'" : "expected ']'");
    } else if (s_.substr(i_, 4) == "true" || s_.substr(i_, 5) == "false") {
      v.kind = JsonValue::kBool;
      v.boolean = c == 't';
      i_ += v.boolean ? 4 : 5;
    } else if (s_.substr(i_, 4) == "null") {
      i_ += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const size_t start = i_;
      while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                                s_[i_] == '+' || s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) {
        ++i_;
      }
      v.kind = JsonValue::kNumber;
      v.text = std::string(s_.substr(start, i_ - start));
    } else {
      return Error("unexpected character");
    }
    return v;
  }

  absl::string_view s_;
  size_t i_ = 0;
};

uint64_t Fnv1a64(absl::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

absl::StatusOr<int64_t> Count(const JsonValue& v, absl::string_view name) {
  int64_t n = 0;
  if (v.kind == JsonValue::kNull) return 0;
  if (v.kind != JsonValue::kNumber || !absl::SimpleAtoi(v.text, &n) || n < 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be a count >= 0"));
  }
  return n;
}

}  // namespace

absl::StatusOr<PostEvent> ParsePostJson(absl::string_view line) {
  TW_ASSIGN_OR_RETURN(JsonValue doc, JsonReader(line).Document());
  PostEvent p;
  bool has_author = false, has_time = false, has_text = false;
  auto want_string = [](const JsonValue& v, absl::string_view name) -> absl::Status {
    if (v.kind == JsonValue::kString || v.kind == JsonValue::kNull) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be a string"));
  };
  auto want_bool = [](const JsonValue& v, absl::string_view name, bool* out) -> absl::Status {
    if (v.kind == JsonValue::kNull) return absl::OkStatus();
    if (v.kind != JsonValue::kBool) {
      return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be true or false"));
    }
    *out = v.boolean;
    return absl::OkStatus();
  };
  for (const auto& [key, v] : doc.members) {
    if (key == "id") {
      if (v.kind != JsonValue::kString && v.kind != JsonValue::kNumber) {
        return absl::InvalidArgumentError("\"id\" must be a string or a number");
      }
      p.id = v.text;
    } else if (key == "author") {
      TW_RETURN_IF_ERROR(want_string(v, key));
      p.author = v.text;
      has_author = !p.author.empty();
    } else if (key == "text") {
      TW_RETURN_IF_ERROR(want_string(v, key));
      p.text = v.text;
      has_text = v.kind == JsonValue::kString;
    } else if (key == "created_at") {
      if (v.kind == JsonValue::kNumber) {
        if (!absl::SimpleAtoi(v.text, &p.created_at_ms) || p.created_at_ms < 0) {
          return absl::InvalidArgumentError("\"created_at\" must be Unix ms >= 0 or RFC 3339");
        }
      } else if (v.kind == JsonValue::kString) {
        absl::Time t;
        std::string err;
        if (!absl::ParseTime(absl::RFC3339_full, v.text, &t, &err)) {
          return absl::InvalidArgumentError(
              absl::StrCat("\"created_at\" is not RFC 3339: \"", v.text, "\""));
        }
        p.created_at_ms = absl::ToUnixMillis(t);
        if (p.created_at_ms < 0) return absl::InvalidArgumentError("\"created_at\" before 1970");
      } else {
        return absl::InvalidArgumentError("\"created_at\" must be RFC 3339 text or Unix ms");
      }
      has_time = true;
    } else if (key == "lang") {
      TW_RETURN_IF_ERROR(want_string(v, key));
      p.lang = v.text;
    } else if (key == "county") {
      TW_RETURN_IF_ERROR(want_string(v, key));
      p.county = v.text;
    } else if (key == "reply" || key == "is_reply") {
      TW_RETURN_IF_ERROR(want_bool(v, key, &p.is_reply));
    } else if (key == "repost" || key == "is_repost") {
      TW_RETURN_IF_ERROR(want_bool(v, key, &p.is_repost));
    } else if (key == "likes") {
      TW_ASSIGN_OR_RETURN(p.likes, Count(v, key));
    } else if (key == "reposts") {
      TW_ASSIGN_OR_RETURN(p.reposts, Count(v, key));
    } else if (key == "replies") {
      TW_ASSIGN_OR_RETURN(p.replies, Count(v, key));
    } else if (key == "counts") {
      if (v.kind != JsonValue::kObject && v.kind != JsonValue::kNull) {
        return absl::InvalidArgumentError("\"counts\" must be an object");
      }
      for (const auto& [ck, cv] : v.members) {
        int64_t* field = ck == "likes"     ? &p.likes
                         : ck == "reposts" ? &p.reposts
                         : ck == "replies" ? &p.replies
                                           : nullptr;
        if (field != nullptr) {
          TW_ASSIGN_OR_RETURN(*field, Count(cv, ck));
        }
      }
    }
  }
  if (!has_author) return absl::InvalidArgumentError("missing \"author\"");
  if (!has_time) return absl::InvalidArgumentError("missing \"created_at\"");
  if (!has_text) return absl::InvalidArgumentError("missing \"text\"");
  if (p.id.empty()) {
    uint64_t h = Fnv1a64(p.author);
    h = Fnv1a64(absl::StrCat("\x1f", p.created_at_ms, "\x1f"), h);
    h = Fnv1a64(p.text, h);
    p.id = absl::StrCat("h", absl::Hex(h, absl::kZeroPad16));
  }
  return p;
}

absl::StatusOr<std::vector<PostEvent>> ReadPostsJsonl(const std::vector<std::string>& paths,
                                                      const PostsJsonlOptions& options,
                                                      PostsReport* report) {
  std::vector<PostEvent> out;
  for (const std::string& path : paths) {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      ++report->lines;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      absl::StatusOr<PostEvent> p = ParsePostJson(line);
      if (!p.ok()) {
        const std::string msg = absl::StrCat(path, ":", n, ": ", p.status().message());
        if (options.on_error == OnError::kAbort) return absl::InvalidArgumentError(msg);
        ++report->skipped;
        if (report->errors.size() < 20) report->errors.push_back(msg);
        continue;
      }
      ++report->posts;
      out.push_back(*std::move(p));
    }
  }
  return out;
}

// ---- firehose -----------------------------------------------------------------

std::vector<CandidateInfo> Ga06AprilCandidates() {
  return GenerateApril18Night({}).races.front().candidates;
}

Firehose::Firehose(FirehoseOptions options) : options_(std::move(options)), rng_(options_.seed) {
  if (options_.candidates.empty()) options_.candidates = Ga06AprilCandidates();
  if (options_.weights.size() != options_.candidates.size()) {
    options_.weights.clear();
    for (size_t i = 0; i < options_.candidates.size(); ++i) {
      options_.weights.push_back(1.0 / std::pow(i + 1.0, 1.3));
    }
  }
  pick_ = std::discrete_distribution<int>(options_.weights.begin(), options_.weights.end());
}

std::string Firehose::Text(int c, int other, const std::string& lang) {
  const CandidateInfo& cand = options_.candidates[c];
  const std::string surname = cand.name.substr(cand.name.rfind(' ') + 1);
  std::string handle = absl::StrReplaceAll(cand.name, {{" ", ""}, {".", ""}});
  std::string name;
  switch (std::uniform_int_distribution<int>(0, 5)(rng_)) {
    case 0:
      name = cand.name;
      break;
    case 1:
      name = surname;
      break;
    case 2:
      name = "@" + handle;
      break;
    case 3:
      name = "#" + surname;
      break;
    case 4:
      name = absl::AsciiStrToUpper(surname);
      break;
    default:
      name = lang == "es" && surname == "Ossoff" ? "Óssoff" : surname;
      break;
  }
  const std::string o = options_.candidates[other].name;
  static const char* kTags[] = {"#GA06",       "#GA6",   "#ElectionNight",
                                "#FlipThe6th", "#gapol", "#Georgia"};
  const std::string tag = kTags[std::uniform_int_distribution<int>(0, 5)(rng_)];
  const int form = std::uniform_int_distribution<int>(0, 3)(rng_);
  if (lang == "es") {
    return form ? absl::StrCat("¡", name, " lidera en Georgia! ", tag)
                : absl::StrCat(name, " y ", o, ", voto a voto ", tag);
  }
  if (lang == "fr") return absl::StrCat(name, " en tête en Géorgie ", tag);
  if (lang == "de") return absl::StrCat(name, " führt in Georgia, ", o, " holt auf ", tag);
  if (lang == "ko") return absl::StrCat("조지아 6지구 ", name, " 선두 ", tag);
  switch (form) {
    case 0:
      return absl::StrCat(name, " is surging in the returns ", tag);
    case 1:
      return absl::StrCat("Just voted for ", name, "! ", tag, " #GA06");
    case 2:
      return absl::StrCat("Watching ", name, " vs ", o, " tonight. ", tag);
    default:
      return absl::StrCat("What a night for ", name, ". ", tag);
  }
}

bool Firehose::Next(PostEvent* p) {
  if (options_.count > 0 ? emitted_ >= options_.count
                         : clock_ms_ >= absl::ToDoubleMilliseconds(options_.duration)) {
    return false;
  }
  // Who is posting about whom: base chatter, or a burst if one is on.
  double extra = 0;
  const FirehoseBurst* burst = nullptr;
  for (const FirehoseBurst& b : options_.bursts) {
    const double from = absl::ToDoubleMilliseconds(b.at);
    if (clock_ms_ >= from && clock_ms_ < from + absl::ToDoubleMilliseconds(b.length)) {
      extra += b.per_second;
      burst = &b;
    }
  }
  const double rate = options_.per_second + extra;
  clock_ms_ += std::exponential_distribution<double>(rate / 1000.0)(rng_);
  const bool in_burst =
      burst != nullptr && std::uniform_real_distribution<double>(0, rate)(rng_) < extra;

  *p = PostEvent{};
  p->id = absl::StrCat("syn-", options_.seed, "-", emitted_);
  int64_t t = options_.start_ms + static_cast<int64_t>(clock_ms_);
  const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
  if (u < options_.late_fraction) {
    t -= std::uniform_int_distribution<int64_t>(60'000, 600'000)(rng_);
  } else {
    t -=
        std::uniform_int_distribution<int64_t>(0, absl::ToInt64Milliseconds(options_.jitter))(rng_);
  }
  p->created_at_ms = std::max<int64_t>(0, t);
  const int n = static_cast<int>(options_.candidates.size());
  if (in_burst) {
    const CandidateInfo& cand = options_.candidates[burst->candidate];
    p->author = absl::StrCat("user", std::uniform_int_distribution<int>(1, 200000)(rng_));
    p->lang = "en";
    p->is_repost = true;
    p->text = absl::StrCat("RT @realDonaldTrump: ", cand.name.substr(cand.name.rfind(' ') + 1),
                           " would raise your taxes. Get out and VOTE! #GA06");
    p->reposts = std::uniform_int_distribution<int64_t>(1000, 20000)(rng_);
  } else {
    static const char* kLangs[] = {"en", "en", "en", "en", "en", "en",
                                   "en", "es", "es", "fr", "de", "ko"};
    p->lang = kLangs[std::uniform_int_distribution<int>(0, 11)(rng_)];
    p->author = absl::StrCat("user", std::uniform_int_distribution<int>(1, 200000)(rng_));
    if (std::uniform_int_distribution<int>(0, 9)(rng_) < 2) {
      p->text = "Polls closed, pizza ordered. Long night ahead #ElectionNight";
    } else {
      const int c = pick_(rng_);
      int other = pick_(rng_);
      if (other == c) other = (c + 1) % n;
      p->text = Text(c, other, p->lang);
    }
    p->is_reply = std::uniform_int_distribution<int>(0, 4)(rng_) == 0;
    p->is_repost = !p->is_reply && std::uniform_int_distribution<int>(0, 3)(rng_) == 0;
    p->likes = std::geometric_distribution<int64_t>(0.2)(rng_);
    p->reposts = std::geometric_distribution<int64_t>(0.5)(rng_);
    p->replies = std::geometric_distribution<int64_t>(0.6)(rng_);
  }
  static const char* kCounties[] = {"Cobb", "DeKalb", "Fulton", ""};
  p->county = kCounties[std::uniform_int_distribution<int>(0, 3)(rng_)];
  ++emitted_;
  return true;
}

// ---- publish -----------------------------------------------------------------

absl::StatusOr<PublishSummary> PublishPosts(const std::function<bool(PostEvent*)>& next,
                                            const kafka::KafkaConfig& cfg,
                                            const PostPublishOptions& options,
                                            const std::atomic<bool>* stop) {
  kafka::KafkaConfig pcfg = cfg;
  pcfg.SetDefault("client.id", "tallywire-produce-posts");
  TW_ASSIGN_OR_RETURN(auto producer, kafka::Producer::Create(pcfg));
  TW_RETURN_IF_ERROR(producer->PartitionCount(options.topic, absl::Seconds(30)).status());
  PublishSummary summary;
  const int64_t start = MonotonicNs();
  const bool tty = options.progress && isatty(STDERR_FILENO);
  int64_t last_progress = 0;
  PostEvent post;
  std::string bytes;
  uint64_t i = 0;
  while ((stop == nullptr || !stop->load(std::memory_order_relaxed)) && next(&post)) {
    bytes = EncodePost(post);
    for (int r = 0; r < std::max(1, options.repeat); ++r, ++i) {
      if (options.rate > 0) {
        const int64_t due = start + static_cast<int64_t>(i * 1e9 / options.rate);
        while (MonotonicNs() < due) {
          producer->Poll(absl::ZeroDuration());
          const int64_t wait = std::min<int64_t>(due - MonotonicNs(), 20'000'000);
          if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
        }
      }
      TW_RETURN_IF_ERROR(
          producer->Produce({.topic = options.topic, .key = post.id, .value = bytes}));
      ++summary.sent;
      if ((i & 255) == 0) producer->Poll(absl::ZeroDuration());
    }
    if (options.on_sent) options.on_sent(post);
    if (tty && MonotonicNs() - last_progress > 200'000'000) {
      last_progress = MonotonicNs();
      PrintPublishProgress(summary, *producer, start, false);
    }
  }
  return FinishPublish(summary, *producer, start, tty);
}

}  // namespace tallywire
