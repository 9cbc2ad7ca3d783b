// RaceModel and RaceState: one race's definition (immutable, shared) and its
// live aggregate (one writer, any number of readers).
//
//   auto model = RaceModel::FromWire(*definition);      // decode time
//   RaceState race(*model, {.window = absl::Minutes(30)});
//   race.Apply({.precinct = 3, .version = 2, .votes = v});  // owner thread only
//   race.Publish();                                         // owner, per batch
//   RaceSnapshot s = race.Snapshot();                       // any thread
//
// Design: the writer keeps each precinct's latest report privately and
// moves the totals by the difference when a newer version arrives (down as
// well as up); equal or older versions change nothing, which is what makes
// duplicated and reordered input converge. Apply works on writer-private
// plain arrays, which the compiler vectorizes; Publish() copies what changed
// to the readers' words, once per consumer batch rather than once per tally
// (the way Redpanda's shards own their state and hand out copies).
// Snapshots therefore show the race as of the last Publish().
//
// The published words live in a seqlock: a sequence counter plus an array
// of std::atomic<int64_t>, with no standalone fences (ThreadSanitizer does
// not model them). The writer stores the counter odd (relaxed), then each
// word with release order, then the counter even (release). A reader loads
// the counter (acquire), every word (acquire), and the counter again
// (relaxed). If the reader saw any word of a write in progress, that word's
// release store carries the odd counter with it, so the second load differs
// and the reader retries; equal and even means one consistent state. All
// shared words are atomics, so there is no data race for TSan or the C++
// memory model; on x86 release stores and acquire loads are plain movs.
// Readers retry while a publish is in progress and never block the writer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/clock.h"
#include "core/codec.h"

namespace tallywire {

struct PrecinctIndex {
  uint32_t value;
  bool operator==(const PrecinctIndex&) const = default;
};

// The interned definition of a race: strings resolved to indices once.
struct RaceModel {
  struct Precinct {
    // What Apply reads next to the id the lookup compares: one cache line.
    std::string id;
    uint32_t county;
    int64_t registered_voters;  // -1: unknown
    std::string name;
  };
  std::string race_id, name, source;
  uint64_t version = 0;
  int32_t majority_threshold_bp = 5000;
  std::vector<CandidateInfo> candidates;
  std::vector<std::string> counties;
  std::vector<Precinct> precincts;

  // Precinct ids to indices: a set of 4-byte indices, hashed and compared
  // through precincts[i].id. The lookup was a quarter of a worker's time
  // per tally (perf, 8 races x 2,500 precincts), a cache miss on a 40-byte
  // slot holding a string key; now the slots of a race fit in 16 KB, and
  // the id it compares shares a line with what Apply reads next.
  struct IdHash {
    using is_transparent = void;
    const std::vector<Precinct>* precincts;
    size_t operator()(absl::string_view id) const { return absl::Hash<absl::string_view>{}(id); }
    size_t operator()(uint32_t i) const { return (*this)((*precincts)[i].id); }
  };
  struct IdEq {
    using is_transparent = void;
    const std::vector<Precinct>* precincts;
    absl::string_view Id(uint32_t i) const { return (*precincts)[i].id; }
    absl::string_view Id(absl::string_view id) const { return id; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Id(a) == Id(b);
    }
  };
  absl::flat_hash_set<uint32_t, IdHash, IdEq> precinct_index{0, IdHash{&precincts},
                                                             IdEq{&precincts}};

  RaceModel() = default;
  // precinct_index points at this model's own precincts.
  RaceModel(const RaceModel&) = delete;
  RaceModel& operator=(const RaceModel&) = delete;

  static absl::StatusOr<std::shared_ptr<const RaceModel>> FromWire(const wire::RaceDefinition& r);
  static absl::StatusOr<std::shared_ptr<const RaceModel>> FromEvent(const RaceDefinitionEvent& e);
  std::optional<PrecinctIndex> FindPrecinct(absl::string_view id) const;
  size_t candidate_count() const { return candidates.size(); }
  // Same candidates and precincts in the same order: tallies stay valid.
  bool SameShape(const RaceModel& other) const;
};

// One precinct report, resolved against a RaceModel (see decode.h).
struct TallyUpdate {
  PrecinctIndex precinct{0};
  uint64_t version = 0;
  int64_t event_time_ms = 0;
  absl::Span<const int64_t> votes;  // one per candidate, validated
  int64_t ballots_cast = -1;        // -1: not reported
  bool complete = false;
};

struct CountySnapshot {
  std::string name;
  int64_t ballots_cast = 0;
  int64_t precincts_reporting = 0;
  int64_t precincts_total = 0;
  std::vector<int64_t> votes;
};

// votes / total in basis points (0 when there are no votes yet).
inline int32_t ShareBp(int64_t votes, int64_t total) {
  return total <= 0 ? 0 : static_cast<int32_t>(votes * 10000 / total);
}

// A consistent copy of one race, as of one apply.
struct RaceSnapshot {
  std::shared_ptr<const RaceModel> model;
  int64_t ballots_cast = 0;
  int64_t total_votes = 0;  // sum of candidate votes
  int64_t precincts_reporting = 0;
  int64_t precincts_total = 0;
  int64_t registered_voters = 0;
  int64_t uncounted_registered = 0;  // registered voters not yet counted, open precincts
  int64_t applied = 0;               // reports applied (stale ones excluded)
  int64_t last_event_time_ms = 0;
  std::vector<int64_t> votes;         // per candidate
  std::vector<int64_t> window_votes;  // votes added in the momentum window
  std::vector<CountySnapshot> counties;

  // Share in basis points of the candidate votes (0 when none yet).
  int32_t ShareBp(size_t candidate) const;
  int32_t WindowShareBp(size_t candidate) const;
};

struct RaceStateOptions {
  absl::Duration window = absl::Minutes(30);  // momentum window, in event time
};

class RaceState {
 public:
  enum class Applied { kApplied, kStale };

  RaceState(std::shared_ptr<const RaceModel> model, RaceStateOptions options = {});
  RaceState(const RaceState&) = delete;
  RaceState& operator=(const RaceState&) = delete;

  // Owner thread only. `u` must be resolved against this race's model.
  // Readers see it after the next Publish().
  Applied Apply(const TallyUpdate& u);
  // Owner thread only: makes every apply so far visible to Snapshot(), in
  // one step. Does nothing when nothing changed.
  void Publish();
  bool has_unpublished() const { return unpublished_; }
  // Any thread; never blocks the writer. As of the last Publish().
  RaceSnapshot Snapshot() const;
  // Owner thread only: this race under `merged`, a definition that keeps
  // every candidate (in order) and every precinct of this one's and may add
  // more (definitions merge, see consumers/state/definitions.h). Every
  // report held here is applied to it again, so its totals equal these.
  std::shared_ptr<RaceState> Grown(std::shared_ptr<const RaceModel> merged) const;

  const RaceModel& model() const { return *model_; }
  const std::shared_ptr<const RaceModel>& model_ptr() const { return model_; }

  // Owner-side reads for the detector: the writer's own totals, published
  // or not.
  int64_t votes(size_t candidate) const { return Word(kHeader + candidate); }
  int64_t total_votes() const { return Word(kTotalVotes); }
  int64_t ballots_cast() const { return Word(kBallots); }
  int64_t precincts_reporting() const { return Word(kReporting); }
  int64_t precincts_total() const { return static_cast<int64_t>(model_->precincts.size()); }
  int64_t uncounted_registered() const { return Word(kUncounted); }
  // Open precincts whose registered voters are unknown: no certainty possible.
  int64_t open_precincts_with_unknown_registration() const { return Word(kUnknownOpen); }

 private:
  enum Slot : size_t {
    kSeqUnused = 0,
    kBallots,
    kTotalVotes,
    kReporting,
    kRegistered,
    kUncounted,
    kUnknownOpen,
    kApplied,
    kLastEventTime,
    kHeader,
  };
  struct PrecinctState {
    uint64_t version = 0;
    int64_t ballots = 0;
    int64_t uncounted = 0;
    int64_t event_time_ms = 0;  // of the report held, for Grown()
    bool seen = false;
    bool complete = false;
  };

  int64_t Word(size_t i) const { return totals_[i]; }
  size_t WindowSlot(size_t c) const { return kHeader + k_ + c; }
  size_t CountySlot(size_t county) const { return kHeader + 2 * k_ + county * (3 + k_); }
  int64_t UncountedOf(const RaceModel::Precinct& p, int64_t ballots, bool complete) const;
  // Appends an entry for event time `t` and returns its k delta slots, or
  // nullptr when `t` is already outside the window.
  int64_t* EnterWindow(int64_t t);
  // Pops what fell out of the window, subtracting it from `window_votes`.
  void LeaveWindow(int64_t* window_votes);
  void AssertOwner();

  std::shared_ptr<const RaceModel> model_;
  const size_t k_;
  const int64_t window_ms_;
  // Writer-private.
  std::vector<PrecinctState> precincts_;
  std::vector<int64_t> precinct_votes_;  // precincts x candidates
  std::vector<int64_t> deltas_;          // scratch, one per candidate
  std::vector<int64_t> totals_;          // the published words' layout, ahead of them
  // Counties whose words changed since the last Publish(): a race has up to
  // hundreds, a batch usually touches a few.
  std::vector<uint32_t> dirty_counties_;
  std::vector<bool> county_dirty_;
  bool unpublished_ = false;
  std::vector<int64_t> window_ring_;                           // entries of [event_time, deltas...]
  size_t window_head_ = 0, window_size_ = 0, window_cap_ = 0;  // in entries
  int64_t max_event_time_ = 0;
#ifndef NDEBUG
  std::thread::id owner_{};
#endif
  // Shared with readers.
  alignas(kCacheLineBytes) std::atomic<uint64_t> seq_{0};
  std::unique_ptr<std::atomic<int64_t>[]> words_;
  size_t word_count_;
};

}  // namespace tallywire
