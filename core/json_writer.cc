#include "core/json_writer.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tallywire {
namespace {

constexpr absl::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD

// Length of the valid UTF-8 sequence at s[i], or 0 if none starts there;
// *subpart is then the length of its maximal invalid subpart (>= 1).
size_t ValidSequence(absl::string_view s, size_t i, size_t* subpart) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  size_t need;
  unsigned char lo = 0x80, hi = 0xbf;  // the second byte's range (RFC 3629 table)
  if (c >= 0xc2 && c <= 0xdf) {
    need = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // past U+10FFFF
  } else {
    *subpart = 1;  // a continuation byte, C0, C1, F5..FF
    return 0;
  }
  size_t k = 1;
  for (; k < need && i + k < s.size(); ++k) {
    const unsigned char lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xbf;
    if (b(k) < lo_k || b(k) > hi_k) break;
  }
  if (k == need) return need;
  *subpart = k;
  return 0;
}

void AppendEscaped(std::string* out, absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          *out += "\\\"";
          break;
        case '\\':
          *out += "\\\\";
          break;
        case '\n':
          *out += "\\n";
          break;
        case '\r':
          *out += "\\r";
          break;
        case '\t':
          *out += "\\t";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            absl::StrAppendFormat(out, "\\u%04x", c);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    size_t subpart = 0;
    if (const size_t n = ValidSequence(s, i, &subpart); n > 0) {
      out->append(s.data() + i, n);
      i += n;
    } else {
      out->append(kReplacement.data(), kReplacement.size());
      i += subpart;
    }
  }
}

}  // namespace

std::string JsonEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  AppendEscaped(&out, s);
  return out;
}

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  AppendEscaped(out, s);
  out->push_back('"');
}

bool JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return true;
  }
  if (open_.empty()) return out_.empty();  // a second top-level value is dropped
  if (open_.back().first == '{') {
    Key("");  // a member needs a key
    after_key_ = false;
    return true;
  }
  if (open_.back().second) out_.push_back(',');
  open_.back().second = true;
  return true;
}

JsonWriter& JsonWriter::BeginObject() {
  if (!BeforeValue()) return *this;
  out_.push_back('{');
  open_.push_back({'{', false});
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  if (after_key_) Null();
  if (!open_.empty() && open_.back().first == '{') {
    out_.push_back('}');
    open_.pop_back();
  }
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  if (!BeforeValue()) return *this;
  out_.push_back('[');
  open_.push_back({'[', false});
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  if (!open_.empty() && open_.back().first == '[') {
    out_.push_back(']');
    open_.pop_back();
  }
  return *this;
}

JsonWriter& JsonWriter::Key(absl::string_view key) {
  if (open_.empty() || open_.back().first != '{') return *this;  // no object: ignored
  if (after_key_) Null();
  if (open_.back().second) out_.push_back(',');
  open_.back().second = true;
  AppendJsonString(&out_, key);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(absl::string_view s) {
  if (!BeforeValue()) return *this;
  AppendJsonString(&out_, s);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  if (!BeforeValue()) return *this;
  absl::StrAppend(&out_, v);
  return *this;
}

JsonWriter& JsonWriter::Double(double v, int decimals) {
  if (!BeforeValue()) return *this;
  if (std::isfinite(v)) {
    absl::StrAppendFormat(&out_, "%.*f", decimals, v);
  } else {
    out_ += "null";
  }
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) {
  if (!BeforeValue()) return *this;
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Null() {
  if (!BeforeValue()) return *this;
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::Document(const std::string& finished) {
  if (!BeforeValue()) return *this;
  out_ += finished.empty() ? "null" : finished;
  return *this;
}

std::string JsonWriter::Finish() && {
  if (after_key_) Null();
  while (!open_.empty()) {
    out_.push_back(open_.back().first == '{' ? '}' : ']');
    open_.pop_back();
  }
  if (out_.empty()) out_ = "null";
  return std::move(out_);
}

}  // namespace tallywire
