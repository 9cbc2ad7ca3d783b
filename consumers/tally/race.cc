#include "consumers/tally/race.h"

#include <cassert>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace tallywire {

absl::StatusOr<std::shared_ptr<const RaceModel>> RaceModel::FromEvent(
    const RaceDefinitionEvent& e) {
  auto m = std::make_shared<RaceModel>();
  m->race_id = e.race_id;
  m->name = e.name;
  m->source = e.source;
  m->version = e.version;
  m->majority_threshold_bp = e.majority_threshold_bp;
  m->candidates = e.candidates;
  absl::flat_hash_map<std::string, uint32_t> county_index;
  m->precincts.reserve(e.precincts.size());
  m->precinct_index.reserve(e.precincts.size());
  for (const PrecinctInfo& p : e.precincts) {
    auto [it, inserted] = county_index.try_emplace(p.county, m->counties.size());
    if (inserted) m->counties.push_back(p.county);
    m->precincts.push_back({.id = p.id,
                            .county = it->second,
                            .registered_voters = p.registered_voters,
                            .name = p.name});
    if (!m->precinct_index.insert(static_cast<uint32_t>(m->precincts.size() - 1)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("race ", e.race_id, ": precinct ", p.id, " defined twice"));
    }
  }
  absl::flat_hash_map<std::string, int> seen;
  for (const CandidateInfo& c : e.candidates) {
    if (!seen.try_emplace(c.id, 0).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("race ", e.race_id, ": candidate ", c.id, " defined twice"));
    }
  }
  return std::shared_ptr<const RaceModel>(std::move(m));
}

absl::StatusOr<std::shared_ptr<const RaceModel>> RaceModel::FromWire(
    const wire::RaceDefinition& r) {
  return FromEvent(ToValue(r));
}

std::optional<PrecinctIndex> RaceModel::FindPrecinct(absl::string_view id) const {
  auto it = precinct_index.find(id);
  if (it == precinct_index.end()) return std::nullopt;
  return PrecinctIndex{*it};
}

bool RaceModel::SameShape(const RaceModel& o) const {
  if (candidates.size() != o.candidates.size() || precincts.size() != o.precincts.size())
    return false;
  for (size_t i = 0; i < candidates.size(); ++i)
    if (candidates[i].id != o.candidates[i].id) return false;
  for (size_t i = 0; i < precincts.size(); ++i)
    if (precincts[i].id != o.precincts[i].id ||
        precincts[i].registered_voters != o.precincts[i].registered_voters)
      return false;
  return true;
}

int32_t RaceSnapshot::ShareBp(size_t c) const { return tallywire::ShareBp(votes[c], total_votes); }

int32_t RaceSnapshot::WindowShareBp(size_t c) const {
  int64_t sum = 0;
  for (int64_t v : window_votes) sum += v;
  return tallywire::ShareBp(window_votes[c], sum);
}

RaceState::RaceState(std::shared_ptr<const RaceModel> model, RaceStateOptions options)
    : model_(std::move(model)),
      k_(model_->candidates.size()),
      window_ms_(absl::ToInt64Milliseconds(options.window)),
      precincts_(model_->precincts.size()),
      precinct_votes_(model_->precincts.size() * k_, 0),
      deltas_(k_, 0),
      totals_(kHeader + 2 * k_ + model_->counties.size() * (3 + k_), 0),
      county_dirty_(model_->counties.size(), false),
      word_count_(totals_.size()) {
  int64_t registered = 0, uncounted = 0, unknown = 0;
  for (const RaceModel::Precinct& p : model_->precincts) {
    if (p.registered_voters < 0) {
      ++unknown;
    } else {
      registered += p.registered_voters;
      uncounted += p.registered_voters;
    }
    ++totals_[CountySlot(p.county) + 2];
  }
  totals_[kRegistered] = registered;
  totals_[kUncounted] = uncounted;
  totals_[kUnknownOpen] = unknown;
  words_ = std::make_unique<std::atomic<int64_t>[]>(word_count_);
  for (size_t i = 0; i < word_count_; ++i) words_[i].store(totals_[i], std::memory_order_relaxed);
}

void RaceState::AssertOwner() {
#ifndef NDEBUG
  // One writer per race (Redpanda's rule): a second writing thread is a bug
  // in the sharding, caught here in debug builds.
  const std::thread::id me = std::this_thread::get_id();
  if (owner_ == std::thread::id()) owner_ = me;
  if (owner_ != me) {
    std::fprintf(stderr, "RaceState %s written by two threads\n", model_->race_id.c_str());
    std::abort();
  }
#endif
}

int64_t RaceState::UncountedOf(const RaceModel::Precinct& p, int64_t ballots, bool complete) const {
  if (complete || p.registered_voters < 0) return 0;
  return std::max<int64_t>(0, p.registered_voters - ballots);
}

namespace {

struct Sums {
  int64_t votes, delta;
};

// Apply's per-candidate work. Parameters, not locals, carry __restrict:
// that is where GCC honours it, and vectorizes without runtime alias checks.
Sums MoveTotals(size_t k, const int64_t* __restrict votes, int64_t* __restrict old,
                int64_t* __restrict delta, int64_t* __restrict race_votes,
                int64_t* __restrict county_votes, int64_t* __restrict window_votes,
                int64_t entering) {
  Sums s{0, 0};
  for (size_t c = 0; c < k; ++c) {
    const int64_t d = votes[c] - old[c];
    delta[c] = d;
    race_votes[c] += d;
    county_votes[c] += d;
    window_votes[c] += d & entering;
    s.delta += d;
    s.votes += votes[c];
    old[c] = votes[c];
  }
  return s;
}

void Subtract(size_t k, const int64_t* __restrict from, int64_t* __restrict to) {
  for (size_t c = 0; c < k; ++c) to[c] -= from[c];
}

}  // namespace

RaceState::Applied RaceState::Apply(const TallyUpdate& u) {
  AssertOwner();
  assert(u.votes.size() == k_ && u.precinct.value < precincts_.size());
  PrecinctState& p = precincts_[u.precinct.value];
  if (p.seen && u.version <= p.version) return Applied::kStale;

  const RaceModel::Precinct& def = model_->precincts[u.precinct.value];
  const size_t k = k_;
  const size_t county = CountySlot(def.county);
  // Raw pointers: Debian's Abseil is hardened, so a Span index is a bounds
  // check per read; the size was checked at decode.
  const int64_t* const votes = u.votes.data();
  int64_t* const old = &precinct_votes_[static_cast<size_t>(u.precinct.value) * k];
  int64_t* const t = totals_.data();
  int64_t* const window_votes = t + WindowSlot(0);
  // The deltas go straight into the window's new entry (or a scratch when
  // the tally is too old to enter): no copies per apply.
  int64_t* const entry = EnterWindow(u.event_time_ms);
  int64_t* const delta = entry != nullptr ? entry : deltas_.data();
  const int64_t entering = entry != nullptr ? -1 : 0;  // a mask: the window gains d or 0
  const Sums sums =
      MoveTotals(k, votes, old, delta, t + kHeader, t + county + 3, window_votes, entering);
  const int64_t sum = sums.votes, delta_sum = sums.delta;
  LeaveWindow(window_votes);
  const int64_t ballots = u.ballots_cast >= 0 ? u.ballots_cast : sum;
  const int64_t uncounted = UncountedOf(def, ballots, u.complete);
  const int64_t reporting_delta = int64_t{u.complete} - int64_t{p.complete};
  t[kTotalVotes] += delta_sum;
  t[kBallots] += ballots - p.ballots;
  t[county] += ballots - p.ballots;
  t[kReporting] += reporting_delta;
  t[county + 1] += reporting_delta;
  t[kUncounted] += uncounted - (p.seen ? p.uncounted : UncountedOf(def, 0, false));
  if (def.registered_voters < 0) t[kUnknownOpen] -= reporting_delta;
  ++t[kApplied];
  t[kLastEventTime] = max_event_time_;
  if (!county_dirty_[def.county]) {
    county_dirty_[def.county] = true;
    dirty_counties_.push_back(def.county);
  }
  unpublished_ = true;

  p.version = u.version;
  p.event_time_ms = u.event_time_ms;
  p.ballots = ballots;
  p.uncounted = uncounted;
  p.complete = u.complete;
  p.seen = true;
  return Applied::kApplied;
}

void RaceState::Publish() {
  AssertOwner();
  if (!unpublished_) return;
  std::atomic<int64_t>* const w = words_.get();
  const int64_t* const t = totals_.data();
  const uint64_t s = seq_.load(std::memory_order_relaxed);
  seq_.store(s + 1, std::memory_order_relaxed);
  // The race-wide words, then only the counties that changed.
  for (size_t i = 0; i < CountySlot(0); ++i) w[i].store(t[i], std::memory_order_release);
  for (uint32_t j : dirty_counties_) {
    for (size_t i = CountySlot(j), end = i + 3 + k_; i < end; ++i) {
      w[i].store(t[i], std::memory_order_release);
    }
    county_dirty_[j] = false;
  }
  seq_.store(s + 2, std::memory_order_release);
  dirty_counties_.clear();
  unpublished_ = false;
}

// The momentum window: each candidate's votes added in the last window_ms_
// of event time. Entries are kept in arrival order; a late entry whose time
// is already outside the window is not added, and eviction pops from the
// front while the front is outside the window.
int64_t* RaceState::EnterWindow(int64_t t) {
  max_event_time_ = std::max(max_event_time_, t);
  if (t <= max_event_time_ - window_ms_) return nullptr;
  const size_t stride = k_ + 1;
  if (window_size_ == window_cap_) {  // full: grow, unrolling the ring
    const size_t grown_cap = std::max<size_t>(16, window_cap_ * 2);
    std::vector<int64_t> grown(grown_cap * stride);
    for (size_t i = 0; i < window_size_; ++i) {
      const size_t from = ((window_head_ + i) % window_cap_) * stride;
      std::copy_n(&window_ring_[from], stride, &grown[i * stride]);
    }
    window_ring_.swap(grown);
    window_cap_ = grown_cap;
    window_head_ = 0;
  }
  // Wrap by comparison, not %: a 64-bit division per apply cost more than
  // the rest of the window's work.
  size_t tail = window_head_ + window_size_;
  if (tail >= window_cap_) tail -= window_cap_;
  int64_t* e = &window_ring_[tail * stride];
  e[0] = t;
  ++window_size_;
  return e + 1;
}

void RaceState::LeaveWindow(int64_t* window_votes) {
  const int64_t cutoff = max_event_time_ - window_ms_;
  const size_t k = k_, stride = k + 1;
  while (window_size_ > 0) {
    const int64_t* e = &window_ring_[window_head_ * stride];
    if (e[0] > cutoff) break;
    Subtract(k, e + 1, window_votes);
    if (++window_head_ == window_cap_) window_head_ = 0;
    --window_size_;
  }
}

std::shared_ptr<RaceState> RaceState::Grown(std::shared_ptr<const RaceModel> merged) const {
  auto next = std::make_shared<RaceState>(
      merged, RaceStateOptions{.window = absl::Milliseconds(window_ms_)});
  std::vector<int64_t> votes(next->k_, 0);
  for (size_t i = 0; i < precincts_.size(); ++i) {
    const PrecinctState& p = precincts_[i];
    if (!p.seen) continue;
    const std::optional<PrecinctIndex> j = merged->FindPrecinct(model_->precincts[i].id);
    if (!j) continue;  // a merge keeps every precinct; nothing to carry otherwise
    std::copy_n(&precinct_votes_[i * k_], std::min(k_, next->k_), votes.begin());
    next->Apply({.precinct = *j,
                 .version = p.version,
                 .event_time_ms = p.event_time_ms,
                 .votes = votes,
                 .ballots_cast = p.ballots,
                 .complete = p.complete});
  }
  next->Publish();
  return next;
}

RaceSnapshot RaceState::Snapshot() const {
  std::vector<int64_t> copy(word_count_);
  for (;;) {
    const uint64_t s1 = seq_.load(std::memory_order_acquire);
    if (s1 & 1) {
      std::this_thread::yield();
      continue;
    }
    for (size_t i = 0; i < word_count_; ++i) copy[i] = words_[i].load(std::memory_order_acquire);
    if (seq_.load(std::memory_order_relaxed) == s1) break;
  }
  RaceSnapshot s;
  s.model = model_;
  s.ballots_cast = copy[kBallots];
  s.total_votes = copy[kTotalVotes];
  s.precincts_reporting = copy[kReporting];
  s.precincts_total = static_cast<int64_t>(model_->precincts.size());
  s.registered_voters = copy[kRegistered];
  s.uncounted_registered = copy[kUncounted];
  s.applied = copy[kApplied];
  s.last_event_time_ms = copy[kLastEventTime];
  s.votes.assign(copy.begin() + kHeader, copy.begin() + kHeader + k_);
  s.window_votes.assign(copy.begin() + WindowSlot(0), copy.begin() + WindowSlot(0) + k_);
  for (size_t j = 0; j < model_->counties.size(); ++j) {
    const size_t b = CountySlot(j);
    s.counties.push_back({model_->counties[j], copy[b], copy[b + 1], copy[b + 2],
                          std::vector<int64_t>(copy.begin() + b + 3, copy.begin() + b + 3 + k_)});
  }
  return s;
}

}  // namespace tallywire
