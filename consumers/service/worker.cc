#include "consumers/service/worker.h"

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "consumers/tally/decode.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/reason.h"
#include "core/status_macros.h"

namespace tallywire {
namespace {

// Delivery tokens: bit 63 marks a dead letter, bits 44..62 the progress key
// (partition, and kPostsKey for the posts topic), bits 0..43 the offset of
// the event the message came from.
constexpr uint64_t kDeadLetterBit = uint64_t{1} << 63;
constexpr int kPartitionShift = 44;
constexpr uint64_t kOffsetMask = (uint64_t{1} << kPartitionShift) - 1;
constexpr int32_t kPostsKey = int32_t{1} << 18;
// Messages handled between two publishes of the races: bounds how far
// readers trail the writer (a few hundred microseconds at full speed).
constexpr int kMaxBatch = 256;

uint64_t Token(int32_t partition, int64_t offset, bool dead_letter) {
  return (dead_letter ? kDeadLetterBit : 0) |
         (static_cast<uint64_t>(partition) << kPartitionShift) |
         (static_cast<uint64_t>(offset) & kOffsetMask);
}

// When the message was produced, in Unix microseconds: the sender's stamp
// if it set one (benchmarks), else Kafka's millisecond timestamp.
int64_t OriginUs(const rd_kafka_message_t& m) {
  absl::string_view stamp = kafka::HeaderValue(m, kSentAtHeader);
  int64_t us = 0;
  if (!stamp.empty() && absl::SimpleAtoi(stamp, &us)) return us;
  return kafka::TimestampMs(m) * 1000;
}

}  // namespace

Worker::Worker(const ServiceOptions& options, int index, RaceDirectory* directory,
               ServiceProbe* probe, MentionBoard* board, const CatalogFeed* catalogs)
    : options_(options),
      index_(index),
      directory_(directory),
      probe_(probe),
      board_(board),
      catalogs_(catalogs) {}

int32_t Worker::KeyOf(absl::string_view topic, int32_t partition) const {
  return options_.topics.posts == topic ? (partition | kPostsKey) : partition;
}

const std::string& Worker::TopicOf(int32_t key) const {
  return key & kPostsKey ? options_.topics.posts : options_.topics.tallies;
}

Worker::~Worker() = default;

absl::Status Worker::Init() {
  kafka::KafkaConfig pcfg = options_.kafka;
  pcfg.SetDefault("client.id", absl::StrCat("tallywire-aggregate-", index_));
  TW_ASSIGN_OR_RETURN(producer_, kafka::Producer::Create(
                                     pcfg, [this](const kafka::Delivery& d) { OnDelivery(d); }));
  // Learn the output topics now: it fails fast when they are missing, and
  // the first alert does not wait for a metadata round trip.
  for (const std::string& topic : {options_.topics.alerts, options_.topics.dlq}) {
    TW_RETURN_IF_ERROR(producer_->PartitionCount(topic, absl::Seconds(30)).status());
  }
  kafka::KafkaConfig ccfg = options_.kafka;
  ccfg.Set("group.id", options_.group_id);
  ccfg.SetDefault("client.id", absl::StrCat("tallywire-aggregate-", index_));
  ccfg.SetDefault("partition.assignment.strategy", kafka::SafeAssignmentStrategy());
  TW_ASSIGN_OR_RETURN(consumer_,
                      kafka::Consumer::Create(
                          ccfg, [this](rd_kafka_topic_partition_list_t* p) { OnAssign(p); },
                          [this](const rd_kafka_topic_partition_list_t* p) { OnRevoke(p); }));
  if (options_.social.enabled) {
    return consumer_->Subscribe({options_.topics.tallies, options_.topics.posts});
  }
  return consumer_->Subscribe({options_.topics.tallies});
}

absl::Status Worker::Run(const std::atomic<bool>* stop, std::latch* all_committed) {
  int64_t last_commit = MonotonicNs();
  int64_t last_lag = 0;
  const int64_t commit_every = absl::ToInt64Nanoseconds(options_.commit_interval);
  while (!stop->load(std::memory_order_acquire)) {
    if (kafka::MessagePtr m = consumer_->Poll(absl::Milliseconds(50))) {
      Handle(*m);
      // Drain what librdkafka has already fetched, then publish once: the
      // seqlock is paid per batch, not per tally.
      for (int n = 1; n < kMaxBatch; ++n) {
        kafka::MessagePtr more = consumer_->Poll(absl::ZeroDuration());
        if (!more) break;
        Handle(*more);
      }
    }
    EndBatch();
    producer_->Poll(absl::ZeroDuration());  // delivery reports, on this thread
    const int64_t now = MonotonicNs();
    if (now - last_publish_ns_ >= absl::ToInt64Nanoseconds(options_.social.publish_interval)) {
      PublishWindows();
      last_publish_ns_ = now;
    }
    if (now - last_commit >= commit_every) {
      if (absl::Status st = CommitProgress(/*sync=*/false); !st.ok()) {
        Log(LogLevel::kWarn, "commit_failed", {{"error", std::string(st.message())}});
      }
      last_commit = now;
    }
    if (now - last_lag >= 1'000'000'000) {
      RefreshLag();
      last_lag = now;
    }
  }
  // Shutdown, in order: polling has stopped and every consumed event was
  // handled synchronously; deliver what is in flight, commit, leave.
  shutting_down_ = true;
  EndBatch();
  PublishWindows();
  absl::Status status = producer_->Flush(absl::Seconds(30));
  if (absl::Status st = CommitProgress(/*sync=*/true); !st.ok()) {
    // Stopping while the group rebalances: the partitions are no longer
    // ours to commit; their next owner replays from the last commit
    // (at-least-once, same alert ids). Worth a warning, not a failure.
    const std::string reason = ReasonOf(st);
    if (reason == "ILLEGAL_GENERATION" || reason == "REBALANCE_IN_PROGRESS" ||
        reason == "UNKNOWN_MEMBER_ID") {
      Log(LogLevel::kWarn, "final_commit_superseded", {{"error", std::string(st.message())}});
    } else if (status.ok()) {
      status = st;
    }
  }
  all_committed->arrive_and_wait();
  if (absl::Status st = consumer_->Close(); !st.ok() && status.ok()) status = st;
  return status;
}

void Worker::Handle(const rd_kafka_message_t& m) {
  if (m.err) {
    probe_->on_consume_error();
    Log(LogLevel::kWarn, "consume_error",
        {{"worker", absl::StrCat(index_)}, {"error", rd_kafka_message_errstr(&m)}});
    return;
  }
  const int32_t key = KeyOf(kafka::TopicName(m), m.partition);
  const bool post = key & kPostsKey;
  const SourceTopic source = post ? SourceTopic::kPosts : SourceTopic::kTallies;
  ++batch_consumed_[static_cast<int>(source)];
  origin_us_ = OriginUs(m);
  PartitionProgress& prog = progress_[key];
  const bool restoring = m.offset < prog.restore_until;
  absl::Status st;
  const absl::Span<const uint8_t> bytes = aligned_.Align(kafka::AsBytesOf(m));
  absl::StatusOr<MessageKind> kind = IdentifyMessage(bytes);
  if (!kind.ok()) {
    st = WithReason("undecodable", kind.status());
  } else if (post) {
    st = *kind == MessageKind::kPost
             ? OnPost(m, bytes)
             : WithReason("wrong_topic", absl::InvalidArgumentError("not a social post"));
  } else if (*kind == MessageKind::kTally) {
    st = OnTally(m, bytes, restoring);
  } else if (*kind == MessageKind::kRaceDefinition) {
    st = OnRaceDefinition(m, bytes);
  } else {
    st = WithReason("wrong_topic", absl::InvalidArgumentError("not a tally or race definition"));
  }
  if (restoring) {
    ++batch_restored_[static_cast<int>(source)];
  } else if (st.ok()) {
    probe_->on_end_to_end(NowUnixUs() - origin_us_);
  }
  // During a replay the dead letter was already written by whoever handled
  // the event first.
  if (!st.ok() && !restoring) DeadLetter(m, st);
  prog.next = m.offset + 1;
}

absl::Status Worker::OnPost(const rd_kafka_message_t& m, absl::Span<const uint8_t> bytes) {
  const int64_t t0 = MonotonicNs();
  absl::StatusOr<const wire::SocialPost*> decoded = DecodePost(bytes);
  if (!decoded.ok()) return WithReason("undecodable", decoded.status());
  const wire::SocialPost& p = **decoded;
  if (p.created_at_ms() < 0) {
    return WithReason("invalid_time", absl::InvalidArgumentError(
                                          absl::StrCat("post ", View(p.id()), " created at ",
                                                       p.created_at_ms(), " ms, before 1970")));
  }
  auto it = windows_.find(m.partition);
  if (it == windows_.end()) return absl::InternalError("posts partition not assigned");
  catalogs_->current().matcher().Match(View(p.text()), &slots_, &folded_);
  ExtractHashtags(View(p.text()), &hashtags_);
  it->second->Add({.id_hash = absl::Hash<absl::string_view>{}(View(p.id())),
                   .created_at_ms = p.created_at_ms(),
                   .slots = slots_,
                   .hashtags = hashtags_});
  probe_->on_applied(SourceTopic::kPosts, MonotonicNs() - t0);
  return absl::OkStatus();
}

void Worker::EndBatch() {
  for (const std::shared_ptr<RaceState>& race : unpublished_races_) race->Publish();
  unpublished_races_.clear();
  // Replays before consumed: ServiceProbe::consumed_new relies on it.
  for (SourceTopic t : {SourceTopic::kTallies, SourceTopic::kPosts}) {
    const int i = static_cast<int>(t);
    if (batch_restored_[i] != 0) probe_->on_restored(t, batch_restored_[i]);
    if (batch_consumed_[i] != 0) probe_->on_consumed(t, batch_consumed_[i]);
    batch_restored_[i] = batch_consumed_[i] = 0;
  }
}

void Worker::PublishWindows() {
  for (auto& [partition, w] : windows_) w->Publish();
}

absl::Status Worker::OnTally(const rd_kafka_message_t& m, absl::Span<const uint8_t> bytes,
                             bool restoring) {
  const int64_t t0 = MonotonicNs();
  OwnedRace* owned = nullptr;
  TW_ASSIGN_OR_RETURN(DecodedTally d,
                      DecodeTallyFor(bytes, [&](absl::string_view id) -> RaceState* {
                        auto it = races_.find(id);
                        if (it == races_.end()) return nullptr;
                        owned = &it->second;
                        return it->second.state.get();
                      }));
  const bool first_change_in_batch = !d.race->has_unpublished();
  if (d.race->Apply(d.update) == RaceState::Applied::kStale) {
    probe_->on_stale();
    return absl::OkStatus();
  }
  if (first_change_in_batch) unpublished_races_.push_back(owned->state);
  alerts_.clear();
  const Trigger trigger{d.update.event_time_ms, kafka::TimestampMs(m), kafka::TopicName(m),
                        m.partition, m.offset};
  owned->detector->Detect(*d.race, trigger, &alerts_);
  probe_->on_applied(SourceTopic::kTallies, MonotonicNs() - t0);
  if (restoring) return absl::OkStatus();
  return Publish(alerts_, m);
}

absl::Status Worker::OnRaceDefinition(const rd_kafka_message_t& m,
                                      absl::Span<const uint8_t> bytes) {
  absl::StatusOr<const wire::RaceDefinition*> def = DecodeRaceDefinition(bytes);
  if (!def.ok()) return WithReason("undecodable", def.status());
  absl::StatusOr<std::shared_ptr<const RaceModel>> model = RaceModel::FromWire(**def);
  if (!model.ok()) return WithReason("invalid_definition", model.status());
  auto it = races_.find((*model)->race_id);
  if (it != races_.end()) {
    const RaceModel& have = it->second.state->model();
    if ((*model)->version <= have.version || (*model)->SameShape(have)) {
      return absl::OkStatus();  // a repeat, or a change that keeps every tally valid
    }
    Log(LogLevel::kWarn, "race_redefined",
        {{"race", have.race_id}, {"version", absl::StrCat((*model)->version)}});
    directory_->Withdraw(it->second.state.get());
    races_.erase(it);
  }
  auto state = std::make_shared<RaceState>(*model, options_.race);
  auto detector = std::make_unique<RaceDetector>(options_.rules, **model);
  directory_->Publish(state);
  Log(LogLevel::kInfo, "race_defined",
      {{"race", (*model)->race_id},
       {"candidates", absl::StrCat((*model)->candidate_count())},
       {"precincts", absl::StrCat((*model)->precincts.size())},
       {"partition", absl::StrCat(m.partition)},
       {"worker", absl::StrCat(index_)}});
  races_.emplace((*model)->race_id, OwnedRace{std::move(state), std::move(detector), m.partition});
  return absl::OkStatus();
}

absl::Status Worker::Publish(const std::vector<AlertEvent>& alerts, const rd_kafka_message_t& m) {
  for (const AlertEvent& a : alerts) {
    const std::string bytes = EncodeAlert(a);
    const int32_t key = KeyOf(kafka::TopicName(m), m.partition);
    TrackPending(key, m.offset, origin_us_);
    TW_RETURN_IF_ERROR(producer_->Produce({.topic = options_.topics.alerts,
                                           .key = a.race_id,
                                           .value = bytes,
                                           .token = Token(key, m.offset, false)}));
    probe_->on_alert(static_cast<int>(a.kind));
    Log(LogLevel::kInfo, "alert", {{"id", a.id}, {"message", a.message}});
  }
  return absl::OkStatus();
}

void Worker::DeadLetter(const rd_kafka_message_t& m, const absl::Status& why) {
  const std::string reason = ReasonOf(why);
  probe_->on_dead_letter(reason);
  const std::string source = absl::StrCat(kafka::TopicName(m), "/", m.partition, "/", m.offset);
  Log(LogLevel::kWarn, "dead_letter",
      {{"source", source}, {"reason", reason}, {"error", std::string(why.message())}});
  const int32_t key = KeyOf(kafka::TopicName(m), m.partition);
  TrackPending(key, m.offset, -1);
  absl::Status st = producer_->Produce({.topic = options_.topics.dlq,
                                        .key = kafka::Key(m),
                                        .value = kafka::Payload(m),
                                        .headers = {{"tallywire.reason", reason},
                                                    {"tallywire.error", std::string(why.message())},
                                                    {"tallywire.source", source}},
                                        .token = Token(key, m.offset, true)});
  if (!st.ok()) {
    Log(LogLevel::kError, "dead_letter_failed",
        {{"source", source}, {"error", std::string(st.message())}});
  }
}

void Worker::TrackPending(int32_t key, int64_t offset, int64_t origin_us) {
  std::deque<Pending>& q = progress_[key].pending;
  if (!q.empty() && q.back().offset == offset) {
    ++q.back().remaining;
  } else {
    q.push_back({offset, 1, origin_us});
  }
}

void Worker::OnDelivery(const kafka::Delivery& d) {
  const bool dead_letter = d.token & kDeadLetterBit;
  const auto key = static_cast<int32_t>((d.token & ~kDeadLetterBit) >> kPartitionShift);
  const int32_t partition = key & ~kPostsKey;
  const auto offset = static_cast<int64_t>(d.token & kOffsetMask);
  auto it = progress_.find(key);
  if (it == progress_.end()) return;  // partition revoked meanwhile; its new owner redoes it
  PartitionProgress& prog = it->second;
  if (d.error) {
    if (!dead_letter) probe_->on_alert_failed();
    Log(LogLevel::kError, dead_letter ? "dead_letter_undelivered" : "alert_undelivered",
        {{"partition", absl::StrCat(partition)},
         {"offset", absl::StrCat(offset)},
         {"error", rd_kafka_err2str(d.error)}});
    if (prog.stuck_at < 0 || offset < prog.stuck_at) prog.stuck_at = offset;
  }
  for (Pending& p : prog.pending) {
    if (p.offset != offset) continue;
    --p.remaining;
    if (!dead_letter && !d.error && p.origin_us > 0) {
      probe_->on_alert_delivered(NowUnixUs() - p.origin_us);
    }
    break;
  }
  while (!prog.pending.empty() && prog.pending.front().remaining <= 0) prog.pending.pop_front();
}

absl::Status Worker::CommitProgress(bool sync, const rd_kafka_topic_partition_list_t* only) {
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(4));
  for (auto& [key, prog] : progress_) {
    const char* topic = TopicOf(key).c_str();
    const int32_t partition = key & ~kPostsKey;
    if (only != nullptr && !rd_kafka_topic_partition_list_find(only, topic, partition)) continue;
    int64_t upto = prog.pending.empty() ? prog.next : prog.pending.front().offset;
    if (prog.stuck_at >= 0) upto = std::min(upto, prog.stuck_at);
    if (upto <= prog.committed || upto < 0) continue;
    rd_kafka_topic_partition_list_add(list.get(), topic, partition)->offset = upto;
    prog.committed = upto;
  }
  if (list->cnt == 0) return absl::OkStatus();
  return consumer_->Commit(*list, !sync);
}

void Worker::OnAssign(rd_kafka_topic_partition_list_t* partitions) {
  probe_->on_rebalance();
  kafka::PartitionListPtr committed(rd_kafka_topic_partition_list_copy(partitions));
  if (absl::Status st = consumer_->Committed(committed.get(), absl::Seconds(30)); !st.ok()) {
    Log(LogLevel::kError, "committed_offsets_unavailable", {{"error", std::string(st.message())}});
  }
  // Posts partitions rebuild their windows from the posts of the last
  // horizon (longest window plus grace, by Kafka timestamp), not the whole log.
  kafka::PartitionListPtr horizon(rd_kafka_topic_partition_list_new(partitions->cnt));
  absl::Duration span = options_.social.windows.grace;
  for (absl::Duration d : options_.social.windows.spans) span = std::max(span, d);
  const int64_t since_ms =
      NowUnixMs() - absl::ToInt64Milliseconds(span + options_.social.windows.grace);
  for (int i = 0; i < partitions->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = partitions->elems[i];
    if (KeyOf(tp.topic, tp.partition) & kPostsKey) {
      rd_kafka_topic_partition_list_add(horizon.get(), tp.topic, tp.partition)->offset = since_ms;
    }
  }
  if (horizon->cnt > 0) {
    if (rd_kafka_resp_err_t e =
            rd_kafka_offsets_for_times(consumer_->handle(), horizon.get(), 10000)) {
      Log(LogLevel::kWarn, "posts_horizon_unavailable", {{"error", rd_kafka_err2name(e)}});
      for (int i = 0; i < horizon->cnt; ++i) horizon->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    rd_kafka_topic_partition_t& tp = partitions->elems[i];
    const int32_t key = KeyOf(tp.topic, tp.partition);
    const int64_t c = committed->elems[i].offset;
    PartitionProgress& prog = progress_[key];
    prog = PartitionProgress{};
    prog.restore_until = c >= 0 ? c : 0;
    prog.committed = c;
    if (key & kPostsKey) {
      const rd_kafka_topic_partition_t* h =
          rd_kafka_topic_partition_list_find(horizon.get(), tp.topic, tp.partition);
      // Never committed: the whole topic is new to the group. Else from the
      // horizon (END when nothing is that recent: the committed offset).
      tp.offset = c < 0 || h == nullptr ? RD_KAFKA_OFFSET_BEGINNING
                  : h->offset < 0       ? c
                                        : std::min(h->offset, c);
      auto w = std::make_shared<MentionWindows>(options_.social.windows);
      windows_[tp.partition] = w;
      board_->Publish(tp.partition, w);
    } else {
      // Rebuild the races of this partition from the compacted log.
      tp.offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    Log(LogLevel::kInfo, "partition_assigned",
        {{"worker", absl::StrCat(index_)},
         {"topic", tp.topic},
         {"partition", absl::StrCat(tp.partition)},
         {"restore_until", absl::StrCat(prog.restore_until)}});
  }
  CountAssigned();
  caught_up_.store(false, std::memory_order_release);
  joined_.store(true, std::memory_order_release);
}

void Worker::OnRevoke(const rd_kafka_topic_partition_list_t* partitions) {
  probe_->on_rebalance();
  // Hand over cleanly: what we produced is delivered and committed before
  // the next owner starts from our committed offset.
  if (absl::Status st = producer_->Flush(absl::Seconds(30)); !st.ok()) {
    Log(LogLevel::kError, "flush_on_revoke", {{"error", std::string(st.message())}});
  }
  if (absl::Status st = CommitProgress(/*sync=*/true, partitions); !st.ok()) {
    Log(LogLevel::kWarn, "commit_on_revoke", {{"error", std::string(st.message())}});
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = partitions->elems[i];
    const int32_t key = KeyOf(tp.topic, tp.partition);
    const int32_t p = tp.partition;
    progress_.erase(key);
    probe_->clear_lag(tp.topic, p);
    if (shutting_down_) continue;  // keep the last state readable after Stop()
    if (key & kPostsKey) {
      if (auto it = windows_.find(p); it != windows_.end()) {
        board_->Withdraw(p, it->second.get());
        windows_.erase(it);
      }
      continue;
    }
    for (auto it = races_.begin(); it != races_.end();) {
      if (it->second.partition == p) {
        directory_->Withdraw(it->second.state.get());
        races_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  CountAssigned();
}

void Worker::CountAssigned() {
  int tallies = 0;
  for (const auto& [key, prog] : progress_) tallies += (key & kPostsKey) == 0;
  assigned_.store(tallies, std::memory_order_release);
}

void Worker::RefreshLag() {
  bool caught_up = joined();
  bool live = joined();
  for (auto& [key, prog] : progress_) {
    const std::string& topic = TopicOf(key);
    const int32_t partition = key & ~kPostsKey;
    int64_t lo = -1, hi = -1;
    rd_kafka_get_watermark_offsets(consumer_->handle(), topic.c_str(), partition, &lo, &hi);
    if (hi < 0) {
      caught_up = false;
      continue;
    }
    const int64_t position = prog.next >= 0 ? prog.next : std::max<int64_t>(lo, 0);
    const int64_t lag = std::max<int64_t>(0, hi - position);
    probe_->set_lag(topic, partition, lag);
    if (position < prog.restore_until) live = false;
    if (position < prog.restore_until || lag > 1000) caught_up = false;
  }
  caught_up_.store(caught_up, std::memory_order_release);
  live_.store(live, std::memory_order_release);
}

}  // namespace tallywire
