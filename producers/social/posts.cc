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
#include "absl/time/clock.h"
#include "core/clock.h"
#include "core/kafka/client.h"
#include "core/status_macros.h"
#include "producers/tally/synthetic_night.h"
#include "simdjson.h"

namespace tallywire {
namespace {

uint64_t Fnv1a64(absl::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// One parser per thread: its buffers grow to the longest line and are reused.
simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

absl::Status JsonError(simdjson::error_code e) {
  switch (e) {
    case simdjson::UTF8_ERROR:
      return absl::InvalidArgumentError("invalid UTF-8");
    case simdjson::NUMBER_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE:
      return absl::InvalidArgumentError("malformed number (or an integer beyond 64 bits)");
    case simdjson::STRING_ERROR:
      return absl::InvalidArgumentError("malformed string (bad escape or unpaired surrogate)");
    case simdjson::UNESCAPED_CHARS:
      return absl::InvalidArgumentError("control character in a string");
    case simdjson::DEPTH_ERROR:
      return absl::InvalidArgumentError("nested too deep");
    default:
      return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", simdjson::error_message(e)));
  }
}

using Type = simdjson::dom::element_type;

absl::StatusOr<int64_t> Count(simdjson::dom::element v, absl::string_view name) {
  if (v.type() == Type::NULL_VALUE) return 0;
  int64_t n = 0;
  if (v.type() != Type::INT64 || v.get_int64().get(n) != simdjson::SUCCESS || n < 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be a count >= 0"));
  }
  // Past the codec's bound the post could only be dead-lettered downstream.
  if (n > kMaxCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" overflows: ", n, " > ", kMaxCount));
  }
  return n;
}

absl::Status WantString(simdjson::dom::element v, absl::string_view name, std::string* out,
                        bool* present = nullptr) {
  if (v.type() == Type::NULL_VALUE) {
    out->clear();
    if (present != nullptr) *present = false;
    return absl::OkStatus();
  }
  std::string_view sv;
  if (v.get_string().get(sv) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be a string"));
  }
  *out = sv;
  if (present != nullptr) *present = true;
  return absl::OkStatus();
}

absl::Status WantBool(simdjson::dom::element v, absl::string_view name, bool* out) {
  if (v.type() == Type::NULL_VALUE) return absl::OkStatus();
  if (v.get_bool().get(*out) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat("\"", name, "\" must be true or false"));
  }
  return absl::OkStatus();
}

// created_at, checked against [1970, now + max_future]: a time far ahead
// would make every later post "late" downstream. Compared as absl::Time, so
// no value (INT64_MAX ms, the year 9999) can overflow on the way.
absl::StatusOr<int64_t> CreatedAtMs(simdjson::dom::element v, absl::Time limit,
                                    absl::Duration max_future) {
  absl::Time t;
  std::string shown;
  int64_t ms = 0;
  std::string_view text;
  if (v.get_int64().get(ms) == simdjson::SUCCESS) {
    t = absl::FromUnixMillis(ms);
    shown = absl::StrCat(ms);
  } else if (v.type() == Type::UINT64) {
    return absl::InvalidArgumentError("\"created_at\" is beyond any plausible time");
  } else if (v.get_string().get(text) == simdjson::SUCCESS) {
    shown = text;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, shown, &t, &err)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"created_at\" is not RFC 3339: \"", shown, "\""));
    }
  } else {
    return absl::InvalidArgumentError(
        "\"created_at\" must be RFC 3339 text or Unix ms (an integer)");
  }
  if (t < absl::UnixEpoch()) {
    return absl::InvalidArgumentError(absl::StrCat("\"created_at\" before 1970: ", shown));
  }
  if (t > limit) {
    return absl::InvalidArgumentError(absl::StrCat("\"created_at\" more than ",
                                                   absl::FormatDuration(max_future),
                                                   " ahead of the clock: ", shown));
  }
  return absl::ToUnixMillis(t);
}

}  // namespace

absl::StatusOr<PostEvent> ParsePostJson(absl::string_view line) {
  return ParsePostJson(line, {}, absl::Now());
}

absl::StatusOr<PostEvent> ParsePostJson(absl::string_view line, const PostsJsonlOptions& options,
                                        absl::Time now) {
  simdjson::dom::element doc;
  if (auto e = Parser().parse(line.data(), line.size()).get(doc); e != simdjson::SUCCESS) {
    return JsonError(e);
  }
  simdjson::dom::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("expected a JSON object");
  }
  const absl::Time limit = now + options.max_future;
  PostEvent p;
  bool has_author = false, has_time = false, has_text = false;
  for (const simdjson::dom::key_value_pair field : object) {
    const absl::string_view key(field.key.data(), field.key.size());
    const simdjson::dom::element v = field.value;
    if (key == "id") {
      std::string_view text;
      int64_t i = 0;
      uint64_t u = 0;
      if (v.get_string().get(text) == simdjson::SUCCESS) {
        p.id = text;
      } else if (v.get_int64().get(i) == simdjson::SUCCESS) {
        p.id = absl::StrCat(i);
      } else if (v.get_uint64().get(u) == simdjson::SUCCESS) {
        p.id = absl::StrCat(u);
      } else {
        // A float id has lost digits already; it would dedupe distinct posts.
        return absl::InvalidArgumentError("\"id\" must be a string or an integer");
      }
    } else if (key == "author") {
      TW_RETURN_IF_ERROR(WantString(v, key, &p.author));
      has_author = !p.author.empty();
    } else if (key == "text") {
      TW_RETURN_IF_ERROR(WantString(v, key, &p.text, &has_text));
    } else if (key == "created_at") {
      TW_ASSIGN_OR_RETURN(p.created_at_ms, CreatedAtMs(v, limit, options.max_future));
      has_time = true;
    } else if (key == "lang") {
      TW_RETURN_IF_ERROR(WantString(v, key, &p.lang));
    } else if (key == "county") {
      TW_RETURN_IF_ERROR(WantString(v, key, &p.county));
    } else if (key == "reply" || key == "is_reply") {
      TW_RETURN_IF_ERROR(WantBool(v, key, &p.is_reply));
    } else if (key == "repost" || key == "is_repost") {
      TW_RETURN_IF_ERROR(WantBool(v, key, &p.is_repost));
    } else if (key == "likes") {
      TW_ASSIGN_OR_RETURN(p.likes, Count(v, key));
    } else if (key == "reposts") {
      TW_ASSIGN_OR_RETURN(p.reposts, Count(v, key));
    } else if (key == "replies") {
      TW_ASSIGN_OR_RETURN(p.replies, Count(v, key));
    } else if (key == "counts") {
      if (v.type() == Type::NULL_VALUE) continue;
      simdjson::dom::object counts;
      if (v.get_object().get(counts) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("\"counts\" must be an object");
      }
      for (const simdjson::dom::key_value_pair c : counts) {
        const absl::string_view ck(c.key.data(), c.key.size());
        int64_t* out = ck == "likes"     ? &p.likes
                       : ck == "reposts" ? &p.reposts
                       : ck == "replies" ? &p.replies
                                         : nullptr;
        if (out != nullptr) {
          TW_ASSIGN_OR_RETURN(*out, Count(c.value, ck));
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
  const absl::Time now = absl::Now();  // one clock for the whole replay
  for (const std::string& path : paths) {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      ++report->lines;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      absl::StatusOr<PostEvent> p = ParsePostJson(line, options, now);
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
