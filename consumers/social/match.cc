#include "consumers/social/match.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <map>

namespace tallywire {
namespace {

// Base letters of U+00C0..U+017F; ' ' marks the two signs (× ÷) among them.
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

// ASCII in one lookup: the folded letter or digit, or 0 for a boundary.
constexpr std::array<char, 128> kAsciiFold = [] {
  std::array<char, 128> t{};
  for (char c = '0'; c <= '9'; ++c) t[c] = c;
  for (char c = 'a'; c <= 'z'; ++c) t[c] = c;
  for (char c = 'A'; c <= 'Z'; ++c) t[c] = static_cast<char>(c - 'A' + 'a');
  return t;
}();

// Reads one UTF-8 character at text[*pos], advances *pos, and writes its
// folded form (at most as many bytes as it read) at *out, advancing *out,
// when it is a letter or digit.
Kind FoldOne(absl::string_view text, size_t* pos, char** out) {
  const auto c = static_cast<unsigned char>(text[*pos]);
  if (c < 0x80) {
    ++*pos;
    const char f = kAsciiFold[c];
    if (f == 0) return Kind::kBoundary;
    *(*out)++ = f;
    return Kind::kLetter;
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
  const char* raw = text.data() + *pos;
  *pos += n;
  if (cp >= 0xC0 && cp < 0x180) {
    const char base = kLatinFold[cp - 0xC0];
    if (base == ' ') return Kind::kBoundary;
    *(*out)++ = base;
    return Kind::kLetter;
  }
  if (cp >= 0x300 && cp < 0x370) return Kind::kIgnore;  // combining accents
  // Other alphabets are letters; punctuation, symbols, emoji and scripts
  // written without spaces (kana, CJK, Hangul) separate words.
  const bool letter = (cp >= 0x180 && cp < 0x2000) || (cp >= 0x2C00 && cp < 0x2E00) ||
                      (cp >= 0xA640 && cp < 0xA800);
  if (!letter) return Kind::kBoundary;
  std::memcpy(*out, raw, n);
  *out += n;
  return Kind::kLetter;
}

}  // namespace

void FoldForMatching(absl::string_view text, std::string* out) {
  // No character folds to more bytes than it takes, and a run of boundaries
  // to one space: the text's size bounds the output, so write through a
  // pointer and trim once, rather than push_back per byte.
  const size_t start = out->size();
  out->resize(start + text.size());
  char* const begin = out->data() + start;
  char* o = begin;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto c = static_cast<unsigned char>(text[pos]);
    Kind kind;
    if (c < 0x80) {  // the common case, inline
      ++pos;
      const char f = kAsciiFold[c];
      if (f != 0) {
        *o++ = f;
        continue;
      }
      kind = Kind::kBoundary;
    } else {
      kind = FoldOne(text, &pos, &o);
    }
    if (kind == Kind::kBoundary && o != begin && o[-1] != ' ') *o++ = ' ';
  }
  out->resize(static_cast<size_t>(o - out->data()));
}

MentionMatcher::MentionMatcher() : delta_(1, 0), first_output_row_(1), out_begin_{0, 0} {}

MentionMatcher MentionMatcher::Build(const std::vector<MentionTerm>& terms) {
  // Trie with sparse children, then failure links by BFS, then the full DFA.
  struct Node {
    std::map<unsigned char, int> next;
    int fail = 0;
    std::vector<Output> out;
  };
  std::vector<Node> trie(1);
  MentionMatcher m;
  std::fill(std::begin(m.byte_class_), std::end(m.byte_class_), 0);
  m.classes_ = 1;
  std::string folded;
  for (const MentionTerm& term : terms) {
    folded.clear();
    FoldForMatching(term.text, &folded);
    while (!folded.empty() && folded.back() == ' ') folded.pop_back();
    if (folded.empty()) continue;
    int s = 0;
    for (char ch : folded) {
      const auto c = static_cast<unsigned char>(ch);
      if (m.byte_class_[c] == 0) m.byte_class_[c] = static_cast<uint8_t>(m.classes_++);
      auto it = trie[s].next.find(c);
      if (it == trie[s].next.end()) {
        trie[s].next[c] = static_cast<int>(trie.size());
        s = static_cast<int>(trie.size());
        trie.emplace_back();
      } else {
        s = it->second;
      }
    }
    trie[s].out.push_back({term.target, static_cast<int32_t>(folded.size())});
  }
  m.delta_.assign(trie.size() * m.classes_, 0);
  std::deque<int> queue;
  for (auto [c, child] : trie[0].next) {
    m.delta_[m.byte_class_[c]] = child;
    queue.push_back(child);
  }
  std::vector<int> order;  // BFS order: a state's fail is settled before it
  while (!queue.empty()) {
    const int s = queue.front();
    queue.pop_front();
    order.push_back(s);
    const Node& fail = trie[trie[s].fail];
    trie[s].out.insert(trie[s].out.end(), fail.out.begin(), fail.out.end());
    for (int k = 0; k < m.classes_; ++k) {
      m.delta_[s * m.classes_ + k] = m.delta_[trie[s].fail * m.classes_ + k];
    }
    for (auto [c, child] : trie[s].next) {
      trie[child].fail = m.delta_[trie[s].fail * m.classes_ + m.byte_class_[c]];
      m.delta_[s * m.classes_ + m.byte_class_[c]] = child;
      queue.push_back(child);
    }
  }
  // Renumber: states without outputs first (the root, 0, has none), then
  // the others; rows premultiplied by the class count.
  const int n = static_cast<int>(trie.size());
  std::vector<int> renamed(n);
  std::vector<int> by_new;
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) m.first_output_row_ = static_cast<int32_t>(by_new.size()) * m.classes_;
    for (int s = 0; s < n; ++s) {
      if (trie[s].out.empty() == (pass == 0)) {
        renamed[s] = static_cast<int>(by_new.size());
        by_new.push_back(s);
      }
    }
  }
  std::vector<int32_t> rows(m.delta_.size());
  for (int s = 0; s < n; ++s) {
    for (int k = 0; k < m.classes_; ++k) {
      rows[renamed[s] * m.classes_ + k] = renamed[m.delta_[s * m.classes_ + k]] * m.classes_;
    }
  }
  m.delta_.swap(rows);
  m.out_begin_.assign(1, 0);
  m.outputs_.clear();
  for (int s : by_new) {
    const Node& node = trie[s];
    m.outputs_.insert(m.outputs_.end(), node.out.begin(), node.out.end());
    m.out_begin_.push_back(static_cast<int32_t>(m.outputs_.size()));
  }
  return m;
}

void MentionMatcher::Match(absl::string_view text, std::vector<int32_t>* targets,
                           std::string* scratch) const {
  targets->clear();
  std::string local;
  std::string& f = scratch ? *scratch : local;
  f.clear();
  FoldForMatching(text, &f);
  const size_t n = f.size();
  const int32_t* const delta = delta_.data();
  int32_t row = 0;
  for (size_t i = 0; i < n; ++i) {
    row = delta[row + byte_class_[static_cast<unsigned char>(f[i])]];
    if (row < first_output_row_) continue;
    const int32_t s = row / classes_;
    for (int32_t k = out_begin_[s]; k < out_begin_[s + 1]; ++k) {
      const Output& o = outputs_[k];
      const size_t start = i + 1 - static_cast<size_t>(o.length);
      if ((start == 0 || f[start - 1] == ' ') && (i + 1 == n || f[i + 1] == ' ')) {
        targets->push_back(o.target);
      }
    }
  }
  std::sort(targets->begin(), targets->end());
  targets->erase(std::unique(targets->begin(), targets->end()), targets->end());
}

void ExtractHashtags(absl::string_view text, std::vector<std::string>* tags) {
  tags->clear();
  // '#' and whole characters up to kMaxHashtagBytes; the spare bytes take
  // the character that overflows, which is then dropped with all after it.
  char buf[kMaxHashtagBytes + 4];
  char* const cap = buf + kMaxHashtagBytes;
  size_t pos = 0;
  while (pos < text.size()) {
    const void* hash = std::memchr(text.data() + pos, '#', text.size() - pos);
    if (hash == nullptr) break;
    pos = static_cast<size_t>(static_cast<const char*>(hash) - text.data()) + 1;
    char* o = buf;
    *o++ = '#';
    bool full = false;
    while (pos < text.size()) {
      char* const before = o;
      if (text[pos] == '_') {
        ++pos;
        *o++ = '_';
      } else {
        size_t next = pos;
        if (FoldOne(text, &next, &o) == Kind::kBoundary) break;
        pos = next;
      }
      if (full || o > cap) {
        o = before;
        full = true;
      }
    }
    const absl::string_view tag(buf, static_cast<size_t>(o - buf));
    if (tag.size() > 1 && std::find(tags->begin(), tags->end(), tag) == tags->end()) {
      tags->emplace_back(tag);
    }
  }
}

}  // namespace tallywire
