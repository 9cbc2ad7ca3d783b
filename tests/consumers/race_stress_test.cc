// Concurrency: 4 partitions, 2 writer threads (each the single owner of the
// races on its partitions), reader threads snapshotting every race in a loop,
// 1 M events. Totals must be exact and every snapshot self-consistent (no
// torn reads); run under ThreadSanitizer in CI (`tsan` preset).
#include <atomic>
#include <random>
#include <thread>

#include "consumers/tally/decode.h"
#include "consumers/tally/race.h"
#include "gtest/gtest.h"
#include "producers/publish.h"
#include "producers/tally/synthetic_night.h"

namespace tallywire {
namespace {

TEST(RaceStress, MillionEventsTwoWritersConcurrentReadersExactTotals) {
  constexpr int kPartitions = 4, kWriters = 2, kReaders = 2;
  const Feed feed = GenerateScaleNight(
      {.races = 8, .precincts = 25000, .candidates = 5, .versions = 5, .seed = 11});
  ASSERT_EQ(feed.tallies.size(), 1'000'000u);

  std::vector<std::shared_ptr<RaceState>> races;
  absl::flat_hash_map<std::string, RaceState*> by_id;
  for (const auto& r : feed.races) {
    races.push_back(std::make_shared<RaceState>(*RaceModel::FromEvent(r)));
    by_id[r.race_id] = races.back().get();
  }
  // Per partition, encoded messages in a shuffled order (reordering within a
  // precinct is allowed: versions decide).
  std::vector<std::vector<std::string>> partitions(kPartitions);
  for (const TallyEvent& t : feed.tallies) {
    partitions[RacePartition(t.race_id, kPartitions)].push_back(EncodeTally(t));
  }
  std::mt19937_64 rng(5);
  for (auto& p : partitions) std::shuffle(p.begin(), p.end(), rng);

  std::atomic<bool> done{false};
  std::atomic<uint64_t> snapshots{0}, torn{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      while (!done.load(std::memory_order_acquire)) {
        for (const auto& race : races) {
          const RaceSnapshot s = race->Snapshot();
          int64_t sum = 0, county_sum = 0;
          for (int64_t v : s.votes) sum += v;
          for (const auto& c : s.counties)
            for (int64_t v : c.votes) county_sum += v;
          if (sum != s.total_votes || county_sum != s.total_votes) torn.fetch_add(1);
          snapshots.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::atomic<uint64_t> applied{0}, errors{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      // Partitions w and w + kWriters, interleaved as a poll loop would see
      // them, published in batches as the worker does.
      const auto& a = partitions[w];
      const auto& b = partitions[w + kWriters];
      std::vector<RaceState*> unpublished;
      auto publish = [&] {
        for (RaceState* r : unpublished) r->Publish();
        unpublished.clear();
      };
      for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        if (i % 32 == 0) publish();
        for (const auto* part : {&a, &b}) {
          if (i >= part->size()) continue;
          auto d = DecodeTallyFor(AsBytes((*part)[i]), [&](absl::string_view id) {
            auto it = by_id.find(id);
            return it == by_id.end() ? nullptr : it->second;
          });
          if (!d.ok()) {
            errors.fetch_add(1);
            continue;
          }
          if (!d->race->has_unpublished()) unpublished.push_back(d->race);
          d->race->Apply(d->update);
          applied.fetch_add(1, std::memory_order_relaxed);
        }
      }
      publish();
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  for (auto& t : readers) t.join();

  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(applied.load(), 1'000'000u);
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(snapshots.load(), 0u);
  const std::vector<ExpectedRace> expected = ExpectedTotals(feed);
  for (size_t r = 0; r < races.size(); ++r) {
    const RaceSnapshot s = races[r]->Snapshot();
    EXPECT_EQ(s.votes, expected[r].votes) << feed.races[r].race_id;
    EXPECT_EQ(s.ballots_cast, expected[r].ballots_cast);
    EXPECT_EQ(s.precincts_reporting, expected[r].precincts_complete);
  }
}

}  // namespace
}  // namespace tallywire
