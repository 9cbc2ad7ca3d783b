// JsonWriter: builds one compact JSON document that is valid whatever the
// strings hold. Text is escaped (quote, backslash, every control
// character) and invalid UTF-8 is replaced, deterministically, by U+FFFD
// per maximal invalid subpart (Unicode's recommended practice, what
// Python's and browsers' decoders do); a non-finite double is null.
//
//   JsonWriter w;
//   w.BeginObject().Key("name").String(name).Key("votes").Int(v).EndObject();
//   std::string doc = std::move(w).Finish();
//
// Commas are the writer's business. Misuse yields valid JSON of the wrong
// shape, never an unreadable document: Finish() closes what is left open,
// a key with no value gets null, a value with no key gets "", and a value
// after the top-level one is dropped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tallywire {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(absl::string_view key);
  JsonWriter& String(absl::string_view s);
  JsonWriter& Int(int64_t v);
  // Fixed-point with `decimals` digits ("%.*f"), as the HTTP face shows shares.
  JsonWriter& Double(double v, int decimals);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // A document another JsonWriter finished, as this value.
  JsonWriter& Document(const std::string& finished);

  std::string Finish() &&;

 private:
  // Writes the separator a value needs; false if there is no place for one.
  bool BeforeValue();

  std::string out_;
  // Per open container: '{' or '[', and whether it has a member yet.
  std::vector<std::pair<char, bool>> open_;
  bool after_key_ = false;
};

// `s` as a JSON string's contents (no quotes), by JsonWriter's rules.
std::string JsonEscape(absl::string_view s);
// Appends `s` as a quoted JSON string.
void AppendJsonString(std::string* out, absl::string_view s);

}  // namespace tallywire
