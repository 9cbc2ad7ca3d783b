// SeqlockBuffer: one writer publishes a variable-length array of int64
// words; any number of readers copy the latest consistent version without
// ever blocking the writer.
//
//   buffer.Publish(words);          // the owning thread only
//   std::vector<int64_t> copy;
//   buffer.Read(&copy);             // any thread
//
// Design: the same fence-free seqlock as RaceState (consumers/tally/race.h):
// the writer stores the counter odd (relaxed), each word with release, then
// the counter even (release); a reader loads the counter (acquire), every
// word (acquire), the counter again (relaxed), and retries if it changed or
// was odd. Growth: when a version needs more words than the block holds, the
// writer fills a new block of twice the size and swaps the block pointer
// (release). Old blocks stay alive until the buffer is destroyed, so a
// reader still on one copies a complete older version and the next read
// finds the new block; memory is bounded by twice the largest version.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/types/span.h"
#include "core/clock.h"

namespace tallywire {

class SeqlockBuffer {
 public:
  SeqlockBuffer() { Grow(64); }
  SeqlockBuffer(const SeqlockBuffer&) = delete;
  SeqlockBuffer& operator=(const SeqlockBuffer&) = delete;

  void Publish(absl::Span<const int64_t> words) {
    Block* b = blocks_.back().get();
    if (words.size() > b->capacity) b = Grow(2 * words.size());
    const uint64_t s = b->seq.load(std::memory_order_relaxed);
    b->seq.store(s + 1, std::memory_order_relaxed);
    b->size.store(words.size(), std::memory_order_release);
    for (size_t i = 0; i < words.size(); ++i) {
      b->words[i].store(words[i], std::memory_order_release);
    }
    b->seq.store(s + 2, std::memory_order_release);
    current_.store(b, std::memory_order_release);
  }

  void Read(std::vector<int64_t>* out) const {
    const Block* b = current_.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t s1 = b->seq.load(std::memory_order_acquire);
      if (s1 & 1) {
        std::this_thread::yield();
        continue;
      }
      const size_t n = b->size.load(std::memory_order_acquire);
      out->resize(n);
      for (size_t i = 0; i < n; ++i) (*out)[i] = b->words[i].load(std::memory_order_acquire);
      if (b->seq.load(std::memory_order_relaxed) == s1) return;
    }
  }

 private:
  struct Block {
    alignas(kCacheLineBytes) std::atomic<uint64_t> seq{0};
    std::atomic<size_t> size{0};
    size_t capacity = 0;
    std::unique_ptr<std::atomic<int64_t>[]> words;
  };

  Block* Grow(size_t capacity) {
    auto b = std::make_unique<Block>();
    b->capacity = capacity;
    b->words = std::make_unique<std::atomic<int64_t>[]>(capacity);
    for (size_t i = 0; i < capacity; ++i) b->words[i].store(0, std::memory_order_relaxed);
    blocks_.push_back(std::move(b));
    if (blocks_.size() == 1) current_.store(blocks_.back().get(), std::memory_order_release);
    return blocks_.back().get();
  }

  std::atomic<const Block*> current_{nullptr};
  std::vector<std::unique_ptr<Block>> blocks_;  // writer-owned
};

}  // namespace tallywire
