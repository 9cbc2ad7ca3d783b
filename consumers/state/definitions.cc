#include "consumers/state/definitions.h"

#include <unistd.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/reason.h"
#include "core/status_macros.h"

namespace tallywire {
namespace {

absl::Status Invalid(absl::string_view race, absl::string_view what) {
  return WithReason("invalid_definition",
                    absl::InvalidArgumentError(absl::StrCat("race ", race, ": ", what)));
}

// Ids become changelog keys joined by NUL (consumers/state/changelog.h).
bool UsableId(absl::string_view id) { return !id.empty() && !absl::StrContains(id, '\0'); }

}  // namespace

absl::StatusOr<MergeResult> MergeDefinition(const RaceDefinitionEvent* have,
                                            const RaceDefinitionEvent& in) {
  if (!UsableId(in.race_id)) return Invalid(in.race_id, "empty race id or NUL in it");
  for (const CandidateInfo& c : in.candidates) {
    if (!UsableId(c.id)) return Invalid(in.race_id, "empty candidate id or NUL in it");
  }
  for (const PrecinctInfo& p : in.precincts) {
    if (!UsableId(p.id)) return Invalid(in.race_id, "empty precinct id or NUL in it");
  }
  MergeResult r;
  if (have == nullptr) {
    r.merged = in;
    r.changed = true;
    r.added_candidates = static_cast<int>(in.candidates.size());
    r.added_precincts = static_cast<int>(in.precincts.size());
    return r;
  }
  r.merged = *have;
  RaceDefinitionEvent& m = r.merged;
  // Tallies list votes in their definition's candidate order, so the known
  // candidates must keep their places; new ones may only follow them.
  const size_t common = std::min(in.candidates.size(), m.candidates.size());
  for (size_t i = 0; i < common; ++i) {
    if (in.candidates[i].id != m.candidates[i].id) {
      return WithReason("definition_conflict",
                        absl::FailedPreconditionError(absl::StrCat(
                            "race ", in.race_id, ": candidate ", i + 1, " is ", in.candidates[i].id,
                            " in this definition (version ", in.version, ") but ",
                            m.candidates[i].id, " in the merged one (version ", m.version,
                            "); removing or reordering candidates would re-label counted votes")));
    }
  }
  const bool newer = in.version >= m.version;
  for (size_t i = common; i < in.candidates.size(); ++i) {
    m.candidates.push_back(in.candidates[i]);
    ++r.added_candidates;
  }
  if (newer) {
    for (size_t i = 0; i < common; ++i) m.candidates[i] = in.candidates[i];
  }
  absl::flat_hash_map<std::string, size_t> index;
  for (size_t i = 0; i < m.precincts.size(); ++i) index.emplace(m.precincts[i].id, i);
  for (const PrecinctInfo& p : in.precincts) {
    auto [it, inserted] = index.emplace(p.id, m.precincts.size());
    if (inserted) {
      m.precincts.push_back(p);
      ++r.added_precincts;
    } else if (newer && !(m.precincts[it->second] == p)) {
      m.precincts[it->second] = p;
      ++r.updated_precincts;
    }
  }
  if (newer) {
    if (!in.name.empty()) m.name = in.name;
    if (!in.source.empty()) m.source = in.source;
    m.majority_threshold_bp = in.majority_threshold_bp;
    m.version = in.version;
  }
  r.changed = !(m == *have);
  return r;
}

absl::Status DefinitionTable::Init() {
  kafka::KafkaConfig cfg = kafka_;
  // Not a group member: it reads every partition and commits nothing.
  cfg.Set("group.id", absl::StrCat("tallywire-definitions-", getpid()));
  cfg.Set("enable.auto.commit", "false");
  cfg.Set("enable.partition.eof", "true");
  cfg.Set("isolation.level", "read_committed");
  cfg.Set("fetch.wait.max.ms", absl::StrCat(kFetchWaitMs));
  cfg.SetDefault("client.id", "tallywire-definitions");
  TW_ASSIGN_OR_RETURN(consumer_, kafka::Consumer::Create(cfg));
  TW_ASSIGN_OR_RETURN(partitions_, consumer_->PartitionCount(topic_, absl::Seconds(30)));
  read_to_.assign(partitions_, 0);
  return consumer_->Assign(topic_, partitions_, RD_KAFKA_OFFSET_BEGINNING);
}

void DefinitionTable::Run(const std::atomic<bool>* stop) {
  while (!stop->load(std::memory_order_acquire)) {
    if (kafka::MessagePtr m = consumer_->Poll(absl::Milliseconds(20))) OnMessage(*m);
    CheckSync();
  }
  (void)consumer_->Close();
}

// "Synced as of T": at least kFetchWaitMs after T, every partition has been
// read up to the high watermark of its latest fetch response. The fetcher
// never waits longer than that for data, so that watermark is from after T.
// Read from librdkafka's cache, not asked for: a query blocks (for minutes,
// seen with a broker down) where this keeps reading.
void DefinitionTable::CheckSync() {
  const int64_t now_ns = MonotonicNs();
  if (check_at_ns_ == 0) {
    bool wanted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      wanted = waiters_ > 0;
    }
    if (!wanted && now_ns - last_sync_ns_ < 1'000'000'000) return;
    candidate_ms_ = NowUnixMs();
    check_at_ns_ = now_ns + (kFetchWaitMs + 50) * 1'000'000;
    return;
  }
  if (now_ns < check_at_ns_) return;
  for (int p = 0; p < partitions_; ++p) {
    int64_t lo = -1, hi = -1;
    rd_kafka_get_watermark_offsets(consumer_->handle(), topic_.c_str(), p, &lo, &hi);
    if (hi < 0 || read_to_[p] < hi) return;  // not there yet: look again next turn
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    synced_as_of_ms_ = std::max(synced_as_of_ms_, candidate_ms_);
  }
  synced_.notify_all();
  check_at_ns_ = 0;
  last_sync_ns_ = now_ns;
}

void DefinitionTable::OnMessage(const rd_kafka_message_t& m) {
  if (m.partition < 0 || m.partition >= partitions_) return;
  if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    read_to_[m.partition] = std::max(read_to_[m.partition], m.offset);
    return;
  }
  if (m.err) {
    Log(LogLevel::kWarn, "definitions_consume_error", {{"error", rd_kafka_message_errstr(&m)}});
    return;
  }
  read_to_[m.partition] = std::max(read_to_[m.partition], m.offset + 1);
  const std::string source = absl::StrCat(topic_, "/", m.partition, "/", m.offset);
  const absl::Span<const uint8_t> bytes = aligned_.Align(kafka::AsBytesOf(m));
  absl::StatusOr<const wire::RaceDefinition*> def = DecodeRaceDefinition(bytes);
  if (!def.ok()) {
    // Every process reads this topic: each one logs, none dead-letters (the
    // record stays where it is, named here).
    Log(LogLevel::kWarn, "definition_rejected",
        {{"source", source}, {"error", std::string(def.status().message())}});
    return;
  }
  if (absl::Status st = Merge(ToValue(**def), source); !st.ok()) {
    Log(LogLevel::kWarn, "definition_rejected",
        {{"source", source}, {"reason", ReasonOf(st)}, {"error", std::string(st.message())}});
  }
}

absl::Status DefinitionTable::Merge(const RaceDefinitionEvent& e, absl::string_view source) {
  RaceDefinitionEvent merged;
  MergeResult r;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = races_.find(e.race_id);
    absl::StatusOr<MergeResult> res =
        MergeDefinition(it == races_.end() ? nullptr : &it->second.def, e);
    if (!res.ok()) {
      if (ReasonOf(res.status()) == "definition_conflict") {
        conflicts_.fetch_add(1, std::memory_order_relaxed);
      }
      return res.status();
    }
    r = *std::move(res);
    if (!r.changed) return absl::OkStatus();
    TW_ASSIGN_OR_RETURN(std::shared_ptr<const RaceModel> model, RaceModel::FromEvent(r.merged));
    races_[e.race_id] = Entry{r.merged, std::move(model)};
    merged = r.merged;
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  Log(LogLevel::kInfo, "definition_merged",
      {{"race", e.race_id},
       {"version", absl::StrCat(merged.version)},
       {"candidates", absl::StrCat(merged.candidates.size())},
       {"precincts", absl::StrCat(merged.precincts.size())},
       {"added_candidates", absl::StrCat(r.added_candidates)},
       {"added_precincts", absl::StrCat(r.added_precincts)},
       {"updated_precincts", absl::StrCat(r.updated_precincts)},
       {"source", std::string(source)}});
  for (const Listener& l : listeners_) l(merged);
  return absl::OkStatus();
}

std::shared_ptr<const RaceModel> DefinitionTable::Find(absl::string_view race_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = races_.find(race_id);
  return it == races_.end() ? nullptr : it->second.model;
}

std::vector<std::shared_ptr<const RaceModel>> DefinitionTable::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const RaceModel>> out;
  out.reserve(races_.size());
  for (const auto& [id, e] : races_) out.push_back(e.model);
  return out;
}

bool DefinitionTable::AwaitSynced(int64_t as_of_ms, absl::Duration timeout,
                                  const std::atomic<bool>* stop) const {
  as_of_ms = std::min(as_of_ms, NowUnixMs());
  const absl::Time deadline = absl::Now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  ++waiters_;
  bool synced = false;
  // In slices, to see *stop: setting it wakes nobody.
  while (!(synced = synced_as_of_ms_ >= as_of_ms) && absl::Now() < deadline &&
         (stop == nullptr || !stop->load(std::memory_order_acquire))) {
    synced_.wait_for(lock, std::chrono::milliseconds(50));
  }
  --waiters_;
  return synced;
}

}  // namespace tallywire
