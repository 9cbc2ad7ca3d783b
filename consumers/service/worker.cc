#include "consumers/service/worker.h"

#include <unistd.h>

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "consumers/state/changelog.h"
#include "consumers/tally/decode.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/reason.h"
#include "core/status_macros.h"
#include "core/topics.h"

namespace tallywire {
namespace {

// Delivery tokens: bit 63 marks a dead letter, bit 62 an alert, bits 43..61
// the progress key (partition, kPostsKey / kRepartitionKey for the topic),
// bits 0..42 the offset of the event the message came from.
constexpr uint64_t kDeadLetterBit = uint64_t{1} << 63;
constexpr uint64_t kAlertBit = uint64_t{1} << 62;
constexpr int kPartitionShift = 43;
constexpr uint64_t kOffsetMask = (uint64_t{1} << kPartitionShift) - 1;
constexpr int32_t kPostsKey = int32_t{1} << 18;
constexpr int32_t kRepartitionKey = int32_t{1} << 17;
constexpr int32_t kPartitionOf = kRepartitionKey - 1;
// Messages handled between two publishes of the races: bounds how far
// readers trail the writer (a few hundred microseconds at full speed).
constexpr int kMaxBatch = 256;

uint64_t Token(int32_t partition, int64_t offset, bool dead_letter, bool alert) {
  return (dead_letter ? kDeadLetterBit : 0) | (alert ? kAlertBit : 0) |
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

absl::Status TxnError(rd_kafka_error_t* e, absl::string_view what) {
  if (e == nullptr) return absl::OkStatus();
  absl::Status st =
      WithReason(rd_kafka_err2name(rd_kafka_error_code(e)),
                 absl::UnavailableError(absl::StrCat(what, ": ", rd_kafka_error_string(e))));
  rd_kafka_error_destroy(e);
  return st;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown-host";
  return name;
}

SourceTopic SourceOf(int32_t key) {
  return key & kPostsKey         ? SourceTopic::kPosts
         : key & kRepartitionKey ? SourceTopic::kRepartition
                                 : SourceTopic::kTallies;
}

}  // namespace

Worker::Worker(const ServiceOptions& options, int index, RaceDirectory* directory,
               ServiceProbe* probe, MentionBoard* board, const CatalogFeed* catalogs,
               DefinitionTable* definitions)
    : options_(options),
      index_(index),
      directory_(directory),
      probe_(probe),
      board_(board),
      catalogs_(catalogs),
      definitions_(definitions) {}

int32_t Worker::KeyOf(absl::string_view topic, int32_t partition) const {
  if (options_.topics.posts == topic) return partition | kPostsKey;
  if (options_.topics.repartition == topic) return partition | kRepartitionKey;
  return partition;
}

const std::string& Worker::TopicOf(int32_t key) const {
  return key & kPostsKey         ? options_.topics.posts
         : key & kRepartitionKey ? options_.topics.repartition
                                 : options_.topics.tallies;
}

Worker::~Worker() = default;

absl::Status Worker::Init() {
  exactly_once_ = options_.processing == Processing::kExactlyOnce && !options_.embedded_broker;
  const std::string instance =
      options_.instance_id.empty() ? absl::StrCat(HostName(), "-", getpid()) : options_.instance_id;
  kafka::KafkaConfig pcfg = options_.kafka;
  pcfg.SetDefault("client.id", absl::StrCat("tallywire-aggregate-", index_));
  if (exactly_once_) {
    pcfg.Set("transactional.id",
             absl::StrCat("tallywire-", options_.group_id, "-", instance, "-", index_));
    // A killed worker's open transaction blocks read_committed readers of
    // what it wrote until this passes (Kafka Streams uses 10 s as well).
    pcfg.SetDefault("transaction.timeout.ms", "10000");
  }
  TW_ASSIGN_OR_RETURN(producer_, kafka::Producer::Create(
                                     pcfg, [this](const kafka::Delivery& d) { OnDelivery(d); }));
  producer_->SetPatience(absl::Seconds(30), stop_);
  if (exactly_once_) {
    TW_RETURN_IF_ERROR(
        TxnError(rd_kafka_init_transactions(producer_->handle(), 60000), "init transactions"));
  }
  // Learn the topics now: it fails fast when one is missing, and the first
  // alert does not wait for a metadata round trip.
  TW_ASSIGN_OR_RETURN(tallies_partitions_,
                      producer_->PartitionCount(options_.topics.tallies, absl::Seconds(30)));
  for (const std::string& topic : {options_.topics.repartition, options_.topics.changelog}) {
    TW_ASSIGN_OR_RETURN(const int n, producer_->PartitionCount(topic, absl::Seconds(30)));
    if (n != tallies_partitions_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "topic ", topic, " has ", n, " partitions, ", options_.topics.tallies, " has ",
          tallies_partitions_, ": they must match (tallywire topics create makes them so)"));
    }
  }
  for (const std::string& topic :
       {options_.topics.alerts, options_.topics.dlq, options_.topics.races}) {
    TW_RETURN_IF_ERROR(producer_->PartitionCount(topic, absl::Seconds(30)).status());
  }
  kafka::KafkaConfig ccfg = options_.kafka;
  ccfg.Set("group.id", options_.group_id);
  ccfg.SetDefault("client.id", absl::StrCat("tallywire-aggregate-", index_));
  // Range assigns partition p of every subscribed topic to one member when
  // the counts match: tallies p and repartition p go together, so a race's
  // home has one owner. (Kafka Streams' assignor does the same.)
  ccfg.Set("partition.assignment.strategy", "range");
  ccfg.SetDefault("isolation.level", "read_committed");
  if (!options_.instance_id.empty()) {
    ccfg.SetDefault("group.instance.id", absl::StrCat(instance, "-", index_));
  }
  TW_ASSIGN_OR_RETURN(consumer_,
                      kafka::Consumer::Create(
                          ccfg, [this](rd_kafka_topic_partition_list_t* p) { OnAssign(p); },
                          [this](const rd_kafka_topic_partition_list_t* p) { OnRevoke(p); }));
  kafka::KafkaConfig rcfg = options_.kafka;
  rcfg.Set("group.id", absl::StrCat(options_.group_id, "-restore-", instance, "-", index_));
  rcfg.Set("enable.partition.eof", "true");
  rcfg.Set("isolation.level", "read_committed");
  // The end of an empty or short partition is known after one fetch wait.
  rcfg.SetDefault("fetch.wait.max.ms", "50");
  rcfg.SetDefault("client.id", absl::StrCat("tallywire-restore-", index_));
  TW_ASSIGN_OR_RETURN(restorer_, kafka::Consumer::Create(rcfg));
  std::vector<std::string> topics = {options_.topics.tallies, options_.topics.repartition};
  if (options_.social.enabled) topics.push_back(options_.topics.posts);
  return consumer_->Subscribe(topics);
}

absl::Status Worker::Run(const std::atomic<bool>* stop, std::latch* all_committed) {
  stop_ = stop;
  producer_->SetPatience(absl::Seconds(30), stop);
  absl::Status fatal;
  int64_t last_commit = MonotonicNs();
  int64_t last_lag = 0;
  const int64_t commit_every = absl::ToInt64Nanoseconds(options_.commit_interval);
  while (!stop->load(std::memory_order_acquire) && fatal.ok()) {
    AdoptDefinitions(/*force=*/false);
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
      absl::Status st = exactly_once_ ? CommitTransaction() : CommitProgress(/*sync=*/false);
      if (!st.ok()) {
        Log(LogLevel::kWarn, "commit_failed", {{"error", std::string(st.message())}});
        // Fenced or fatal: another instance owns this transactional id now.
        if (absl::IsFailedPrecondition(st)) fatal = st;
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
  absl::Status status = fatal;
  if (exactly_once_) {
    if (fatal.ok()) status = CommitTransaction();
  } else {
    status = producer_->Flush(absl::Seconds(30));
  }
  if (absl::Status st = exactly_once_ ? absl::OkStatus() : CommitProgress(/*sync=*/true);
      !st.ok()) {
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
  if (exactly_once_) {
    if (absl::Status st = BeginTransaction(); !st.ok()) {
      Log(LogLevel::kError, "transaction_begin_failed", {{"error", std::string(st.message())}});
      produce_failed_ = true;
    }
  }
  const int32_t key = KeyOf(kafka::TopicName(m), m.partition);
  const SourceTopic source = SourceOf(key);
  const bool post = source == SourceTopic::kPosts;
  ++batch_consumed_[static_cast<int>(source)];
  origin_us_ = OriginUs(m);
  current_key_ = key;
  current_offset_ = m.offset;
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
    st = OnTally(m, bytes);
  } else if (*kind == MessageKind::kRaceDefinition && source == SourceTopic::kTallies) {
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
  for (SourceTopic t : {SourceTopic::kTallies, SourceTopic::kPosts, SourceTopic::kRepartition}) {
    const int i = static_cast<int>(t);
    if (batch_restored_[i] != 0) probe_->on_restored(t, batch_restored_[i]);
    if (batch_consumed_[i] != 0) probe_->on_consumed(t, batch_consumed_[i]);
    batch_restored_[i] = batch_consumed_[i] = 0;
  }
}

void Worker::PublishWindows() {
  for (auto& [partition, w] : windows_) w->Publish();
}

absl::Status Worker::OnTally(const rd_kafka_message_t& m, absl::Span<const uint8_t> bytes) {
  const int64_t t0 = MonotonicNs();
  absl::StatusOr<const wire::PrecinctTally*> wire_tally = DecodeTally(bytes);
  if (!wire_tally.ok()) {
    return HasReason(wire_tally.status()) ? wire_tally.status()
                                          : WithReason("undecodable", wire_tally.status());
  }
  const absl::string_view race_id = View((*wire_tally)->race_id());
  const int32_t home = RacePartition(race_id, tallies_partitions_);
  if (home != m.partition) return Forward(m, home);
  OwnedRace* owned = FindOrDefine(race_id, m.partition, kafka::TimestampMs(m));
  absl::StatusOr<DecodedTally> resolved =
      ResolveTally(**wire_tally, owned ? owned->state.get() : nullptr);
  if (!resolved.ok() && owned != nullptr &&
      (ReasonOf(resolved.status()) == "unknown_precinct" ||
       ReasonOf(resolved.status()) == "candidate_mismatch")) {
    // A precinct or candidate added by a definition this worker has not
    // adopted yet (it was written before this tally): adopt it, then retry.
    definitions_->AwaitSynced(kafka::TimestampMs(m), options_.definition_wait, stop_);
    AdoptDefinitions(/*force=*/true);
    owned = &races_.find(race_id)->second;
    resolved = ResolveTally(**wire_tally, owned->state.get());
  }
  if (!resolved.ok()) return resolved.status();
  DecodedTally& d = *resolved;
  const bool first_change_in_batch = !d.race->has_unpublished();
  if (d.race->Apply(d.update) == RaceState::Applied::kStale) {
    probe_->on_stale();
    return absl::OkStatus();
  }
  if (first_change_in_batch) unpublished_races_.push_back(owned->state);
  // What was accepted is the state: a new owner restores it from here.
  (void)WriteChangelog(m.partition, TallyKey(race_id, View((*wire_tally)->precinct_id())),
                       kafka::Payload(m));
  alerts_.clear();
  const Trigger trigger{d.update.event_time_ms, kafka::TimestampMs(m), kafka::TopicName(m),
                        m.partition, m.offset};
  owned->detector->Detect(*d.race, trigger, &alerts_);
  probe_->on_applied(SourceTopic::kTallies, MonotonicNs() - t0);
  if (alerts_.empty()) return absl::OkStatus();
  Publish(alerts_);
  (void)WriteChangelog(m.partition, DetectorKey(race_id), owned->detector->SaveState());
  return absl::OkStatus();
}

absl::Status Worker::Forward(const rd_kafka_message_t& m, int32_t home) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (absl::string_view sent = kafka::HeaderValue(m, kSentAtHeader); !sent.empty()) {
    headers.emplace_back(kSentAtHeader, std::string(sent));
  }
  TW_RETURN_IF_ERROR(ProduceOutput({.topic = options_.topics.repartition,
                                    .partition = home,
                                    .key = kafka::Key(m),
                                    .value = kafka::Payload(m),
                                    .headers = std::move(headers)},
                                   Output::kState));
  probe_->on_forwarded();
  return absl::OkStatus();
}

Worker::OwnedRace* Worker::FindOrDefine(absl::string_view race_id, int32_t partition,
                                        int64_t arrived_ms) {
  if (auto it = races_.find(race_id); it != races_.end()) return &it->second;
  std::shared_ptr<const RaceModel> model = definitions_->Find(race_id);
  if (model == nullptr) {
    // The definition may be on its way: its producer wrote it before this
    // tally, so it is in the races topic as of the tally's arrival.
    definitions_->AwaitSynced(arrived_ms >= 0 ? arrived_ms : NowUnixMs(), options_.definition_wait,
                              stop_);
    model = definitions_->Find(race_id);
    if (model == nullptr) return nullptr;
  }
  auto state = std::make_shared<RaceState>(model, options_.race);
  auto detector = std::make_unique<RaceDetector>(options_.rules, *model);
  directory_->Publish(state);
  Log(LogLevel::kInfo, "race_owned",
      {{"race", model->race_id},
       {"candidates", absl::StrCat(model->candidate_count())},
       {"precincts", absl::StrCat(model->precincts.size())},
       {"partition", absl::StrCat(partition)},
       {"worker", absl::StrCat(index_)}});
  auto [it, inserted] =
      races_.emplace(model->race_id, OwnedRace{std::move(state), std::move(detector), partition});
  return &it->second;
}

void Worker::AdoptDefinitions(bool force) {
  const uint64_t g = definitions_->generation();
  if (g == definitions_seen_ && !force) return;
  definitions_seen_ = g;
  for (const std::shared_ptr<const RaceModel>& model : definitions_->All()) {
    const int32_t home = RacePartition(model->race_id, tallies_partitions_);
    auto it = races_.find(model->race_id);
    if (it == races_.end()) {
      // A race defined, not yet counted, is served (at 0 %) by its owner.
      if (progress_.contains(home)) FindOrDefine(model->race_id, home, -1);
      continue;
    }
    OwnedRace& owned = it->second;
    if (model == owned.state->model_ptr()) continue;
    const RaceModel& before = owned.state->model();
    Log(LogLevel::kInfo, "race_merged",
        {{"race", model->race_id},
         {"candidates", absl::StrCat(before.candidate_count(), "->", model->candidate_count())},
         {"precincts", absl::StrCat(before.precincts.size(), "->", model->precincts.size())},
         {"worker", absl::StrCat(index_)}});
    std::shared_ptr<RaceState> grown = owned.state->Grown(model);
    owned.detector->Grow(model->candidate_count());
    directory_->Withdraw(owned.state.get());
    directory_->Publish(grown);
    owned.state = std::move(grown);
  }
}

absl::Status Worker::WriteChangelog(int32_t partition, std::string key, absl::string_view value) {
  absl::Status st = ProduceOutput(
      {.topic = options_.topics.changelog, .partition = partition, .key = key, .value = value},
      Output::kState);
  if (!st.ok()) {
    Log(LogLevel::kError, "changelog_failed",
        {{"partition", absl::StrCat(partition)}, {"error", std::string(st.message())}});
    return st;
  }
  probe_->on_changelog();
  return absl::OkStatus();
}

absl::Status Worker::OnRaceDefinition(const rd_kafka_message_t& m,
                                      absl::Span<const uint8_t> bytes) {
  // A producer from before the races topic put it here. It counts for this
  // process at once and goes to the races topic for every other one.
  absl::StatusOr<const wire::RaceDefinition*> def = DecodeRaceDefinition(bytes);
  if (!def.ok()) return WithReason("undecodable", def.status());
  const RaceDefinitionEvent e = ToValue(**def);
  TW_RETURN_IF_ERROR(
      definitions_->Merge(e, absl::StrCat(kafka::TopicName(m), "/", m.partition, "/", m.offset)));
  return ProduceOutput(
      {.topic = options_.topics.races, .key = e.race_id, .value = kafka::Payload(m)},
      Output::kState);
}

void Worker::Publish(const std::vector<AlertEvent>& alerts) {
  for (const AlertEvent& a : alerts) {
    const std::string bytes = EncodeAlert(a);
    absl::Status st = ProduceOutput(
        {.topic = options_.topics.alerts, .key = a.race_id, .value = bytes}, Output::kAlert);
    if (!st.ok()) {
      // Exactly-once: the transaction aborts and the batch is done again.
      // At-least-once: counted and logged; the tally stays applied.
      probe_->on_alert_failed();
      Log(LogLevel::kError, "alert_failed", {{"id", a.id}, {"error", std::string(st.message())}});
      continue;
    }
    probe_->on_alert(static_cast<int>(a.kind));
    Log(LogLevel::kInfo, "alert", {{"id", a.id}, {"message", a.message}});
  }
}

absl::Status Worker::ProduceOutput(kafka::OutgoingMessage msg, Output kind) {
  msg.token =
      Token(current_key_, current_offset_, kind == Output::kDeadLetter, kind == Output::kAlert);
  absl::Status st = producer_->Produce(msg);
  if (!st.ok()) {
    // Exactly-once: the batch is incomplete, so its transaction must abort.
    // A dead letter is the exception: it never holds the input back.
    if (exactly_once_ && kind != Output::kDeadLetter) produce_failed_ = true;
    return st;
  }
  if (exactly_once_) {
    // An alert is visible to read_committed readers when the transaction
    // commits: produce->alert is measured then.
    if (kind == Output::kAlert) txn_alert_origins_us_.push_back(origin_us_);
  } else {
    TrackPending(current_key_, current_offset_, kind == Output::kAlert ? origin_us_ : -1);
  }
  return st;
}

void Worker::DeadLetter(const rd_kafka_message_t& m, const absl::Status& why) {
  const std::string reason = ReasonOf(why);
  probe_->on_dead_letter(reason);
  const std::string source = absl::StrCat(kafka::TopicName(m), "/", m.partition, "/", m.offset);
  Log(LogLevel::kWarn, "dead_letter",
      {{"source", source}, {"reason", reason}, {"error", std::string(why.message())}});
  absl::Status st = ProduceOutput({.topic = options_.topics.dlq,
                                   .key = kafka::Key(m),
                                   .value = kafka::Payload(m),
                                   .headers = {{"tallywire.reason", reason},
                                               {"tallywire.error", std::string(why.message())},
                                               {"tallywire.source", source}}},
                                  Output::kDeadLetter);
  if (!st.ok()) {
    // Not retried and never holding commits back: the record stays in its
    // topic, named here.
    probe_->on_dead_letter_undeliverable();
    Log(LogLevel::kError, "dead_letter_failed",
        {{"source", source}, {"error", std::string(st.message())}});
  }
}

void Worker::TrackPending(int32_t key, int64_t offset, int64_t origin_us) {
  std::deque<Pending>& q = progress_[key].pending;
  if (!q.empty() && q.back().offset == offset) {
    ++q.back().remaining;
    q.back().origin_us = std::max(q.back().origin_us, origin_us);
  } else {
    q.push_back({offset, 1, origin_us});
  }
}

void Worker::OnDelivery(const kafka::Delivery& d) {
  const bool dead_letter = d.token & kDeadLetterBit;
  const bool alert = d.token & kAlertBit;
  const auto key =
      static_cast<int32_t>((d.token & ~(kDeadLetterBit | kAlertBit)) >> kPartitionShift);
  const auto offset = static_cast<int64_t>(d.token & kOffsetMask);
  if (d.error) {
    if (alert) probe_->on_alert_failed();
    if (dead_letter) {
      probe_->on_dead_letter_undeliverable();
    } else if (exactly_once_) {
      produce_failed_ = true;  // the transaction cannot commit: abort, do the batch again
    }
    Log(LogLevel::kError, dead_letter ? "dead_letter_undelivered" : "output_undelivered",
        {{"source", absl::StrCat(TopicOf(key), "/", key & kPartitionOf, "/", offset)},
         {"error", rd_kafka_err2str(d.error)}});
  } else if (!dead_letter && exactly_once_) {
    return;  // delivered into the open transaction; counted when it commits
  }
  auto it = progress_.find(key);
  if (it == progress_.end()) return;  // partition revoked meanwhile; its new owner redoes it
  PartitionProgress& prog = it->second;
  // At-least-once: a failed output is counted and logged, and lets the
  // partition commit past it (librdkafka already retried it until
  // delivery.timeout.ms); holding commits back forever would stall it.
  for (Pending& p : prog.pending) {
    if (p.offset != offset) continue;
    --p.remaining;
    if (alert && !d.error && p.origin_us > 0) {
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
    const int32_t partition = key & kPartitionOf;
    if (only != nullptr && !rd_kafka_topic_partition_list_find(only, topic, partition)) continue;
    int64_t upto = prog.pending.empty() ? prog.next : prog.pending.front().offset;
    if (upto <= prog.committed || upto < 0) continue;
    rd_kafka_topic_partition_list_add(list.get(), topic, partition)->offset = upto;
    prog.committed = upto;
  }
  if (list->cnt == 0) return absl::OkStatus();
  absl::Status st = consumer_->Commit(*list, !sync);
  commit_failing_.store(!st.ok(), std::memory_order_release);
  return st;
}

absl::Status Worker::ReadCommitted(rd_kafka_topic_partition_list_t* list) {
  // Never a silent replay from 0: retried until it works or we stop, and
  // /readyz says not ready meanwhile.
  absl::Duration backoff = absl::Milliseconds(200);
  for (int attempt = 1;; ++attempt) {
    absl::Status st = consumer_->Committed(list, absl::Seconds(30));
    if (st.ok()) {
      commit_failing_.store(false, std::memory_order_release);
      return st;
    }
    commit_failing_.store(true, std::memory_order_release);
    Log(LogLevel::kError, "committed_offsets_unavailable",
        {{"worker", absl::StrCat(index_)},
         {"attempt", absl::StrCat(attempt)},
         {"error", std::string(st.message())}});
    if (stop_ != nullptr && stop_->load(std::memory_order_acquire)) return st;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

void Worker::OnAssign(rd_kafka_topic_partition_list_t* partitions) {
  probe_->on_rebalance();
  kafka::PartitionListPtr committed(rd_kafka_topic_partition_list_copy(partitions));
  if (absl::Status st = ReadCommitted(committed.get()); !st.ok()) {
    // Stopping: take nothing, so nothing is handled from a wrong offset.
    for (int i = 0; i < partitions->cnt; ++i) {
      partitions->elems[i].offset = RD_KAFKA_OFFSET_END;
    }
    return;
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
    prog.committed = c;
    if (key & kPostsKey) {
      prog.restore_until = c >= 0 ? c : 0;
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
      // The state comes from the changelog; the input resumes where the
      // group left it (a new group reads it all: every tally the changelog
      // holds is stale, so nothing is counted or announced twice).
      tp.offset = c >= 0 ? c : RD_KAFKA_OFFSET_BEGINNING;
      if ((key & kRepartitionKey) == 0) {
        if (!rd_kafka_topic_partition_list_find(partitions, options_.topics.repartition.c_str(),
                                                tp.partition)) {
          Log(LogLevel::kError, "copartitioning_broken",
              {{"partition", absl::StrCat(tp.partition)},
               {"error",
                "tallies partition assigned without its repartition partition: set "
                "partition.assignment.strategy=range on every member"}});
        }
        for (int attempt = 1;; ++attempt) {
          absl::Status st = Restore(tp.partition);
          if (st.ok() || (stop_ != nullptr && stop_->load(std::memory_order_acquire))) break;
          Log(LogLevel::kError, "restore_failed",
              {{"partition", absl::StrCat(tp.partition)},
               {"attempt", absl::StrCat(attempt)},
               {"error", std::string(st.message())}});
          DropRaces(tp.partition);
          absl::SleepFor(absl::Seconds(1));
        }
      }
    }
    Log(LogLevel::kInfo, "partition_assigned",
        {{"worker", absl::StrCat(index_)},
         {"topic", tp.topic},
         {"partition", absl::StrCat(tp.partition)},
         {"committed", absl::StrCat(c)}});
  }
  AdoptDefinitions(/*force=*/true);
  CountAssigned();
  caught_up_.store(false, std::memory_order_release);
  joined_.store(true, std::memory_order_release);
}

absl::Status Worker::Restore(int32_t partition) {
  const int64_t t0 = MonotonicNs();
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), options_.topics.changelog.c_str(), partition)
      ->offset = RD_KAFKA_OFFSET_BEGINNING;
  TW_RETURN_IF_ERROR(
      kafka::KafkaError(rd_kafka_assign(restorer_->handle(), list.get()), "assign changelog"));
  absl::flat_hash_map<std::string, std::string> detectors;
  uint64_t records = 0, skipped = 0;
  absl::Status status;
  int64_t idle_since = MonotonicNs();
  for (;;) {
    if (stop_ != nullptr && stop_->load(std::memory_order_acquire)) {
      status = absl::CancelledError("stopping");
      break;
    }
    kafka::MessagePtr m = restorer_->Poll(absl::Milliseconds(100));
    if (!m) {
      if (MonotonicNs() - idle_since > 60'000'000'000) {
        status = absl::DeadlineExceededError("changelog: no end of partition in 60 s");
        break;
      }
      continue;
    }
    idle_since = MonotonicNs();
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
    if (m->err) {
      status = kafka::KafkaError(m->err, "changelog");
      break;
    }
    ++records;
    const ChangelogKey key = ParseChangelogKey(kafka::Key(*m));
    if (key.kind == ChangelogKey::Kind::kDetector) {
      detectors[key.race_id] = std::string(kafka::Payload(*m));
      continue;
    }
    absl::StatusOr<const wire::PrecinctTally*> t =
        key.kind == ChangelogKey::Kind::kTally
            ? DecodeTally(aligned_.Align(kafka::AsBytesOf(*m)))
            : absl::StatusOr<const wire::PrecinctTally*>(absl::DataLossError("unknown key"));
    OwnedRace* owned =
        t.ok() ? FindOrDefine(View((*t)->race_id()), partition, NowUnixMs()) : nullptr;
    absl::StatusOr<DecodedTally> d =
        t.ok() ? ResolveTally(**t, owned ? owned->state.get() : nullptr) : t.status();
    if (!d.ok()) {
      // Only tallywire writes here; a record it cannot use is a bug or a
      // definition lost, worth a line each, and the rest still restores.
      ++skipped;
      Log(LogLevel::kWarn, "changelog_record_skipped",
          {{"source", absl::StrCat(options_.topics.changelog, "/", partition, "/", m->offset)},
           {"error", std::string(d.status().message())}});
      continue;
    }
    d->race->Apply(d->update);
  }
  (void)rd_kafka_assign(restorer_->handle(), nullptr);
  TW_RETURN_IF_ERROR(status);
  int races = 0;
  for (auto& [id, owned] : races_) {
    if (owned.partition != partition) continue;
    ++races;
    owned.state->Publish();
    if (auto it = detectors.find(id); it != detectors.end()) {
      if (absl::Status st = owned.detector->LoadState(it->second); !st.ok()) {
        Log(LogLevel::kWarn, "detector_state_unusable",
            {{"race", id}, {"error", std::string(st.message())}});
      }
    }
  }
  probe_->on_restored_records(records);
  Log(LogLevel::kInfo, "restored",
      {{"worker", absl::StrCat(index_)},
       {"partition", absl::StrCat(partition)},
       {"records", absl::StrCat(records)},
       {"skipped", absl::StrCat(skipped)},
       {"races", absl::StrCat(races)},
       {"ms", absl::StrCat((MonotonicNs() - t0) / 1'000'000)}});
  return absl::OkStatus();
}

void Worker::DropRaces(int32_t partition) {
  for (auto it = races_.begin(); it != races_.end();) {
    if (it->second.partition == partition) {
      directory_->Withdraw(it->second.state.get());
      races_.erase(it++);
    } else {
      ++it;
    }
  }
}

absl::Status Worker::BeginTransaction() {
  if (in_transaction_) return absl::OkStatus();
  TW_RETURN_IF_ERROR(TxnError(rd_kafka_begin_transaction(producer_->handle()), "begin"));
  in_transaction_ = true;
  return absl::OkStatus();
}

absl::Status Worker::CommitTransaction() {
  if (!in_transaction_) return absl::OkStatus();
  EndBatch();
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(4));
  for (auto& [key, prog] : progress_) {
    if (prog.next < 0 || prog.next <= prog.committed) continue;
    rd_kafka_topic_partition_list_add(list.get(), TopicOf(key).c_str(), key & kPartitionOf)
        ->offset = prog.next;
  }
  rd_kafka_t* rk = producer_->handle();
  rd_kafka_error_t* error = nullptr;
  if (produce_failed_) {
    error = rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "an output of the batch failed");
  } else {
    if (list->cnt > 0) {
      rd_kafka_consumer_group_metadata_t* group =
          rd_kafka_consumer_group_metadata(consumer_->handle());
      error = rd_kafka_send_offsets_to_transaction(rk, list.get(), group, 30000);
      rd_kafka_consumer_group_metadata_destroy(group);
    }
    for (int attempt = 0; error == nullptr && attempt < 3; ++attempt) {
      error = rd_kafka_commit_transaction(rk, 30000);
      if (error == nullptr || !rd_kafka_error_is_retriable(error)) break;
      rd_kafka_error_destroy(error);
      error = nullptr;
    }
  }
  if (error == nullptr) {
    in_transaction_ = false;
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = list->elems[i];
      if (auto it = progress_.find(KeyOf(tp.topic, tp.partition)); it != progress_.end()) {
        it->second.committed = tp.offset;
      }
    }
    probe_->on_transaction(true);
    const int64_t now_us = NowUnixUs();
    for (int64_t origin : txn_alert_origins_us_) {
      if (origin > 0) probe_->on_alert_delivered(now_us - origin);
    }
    txn_alert_origins_us_.clear();
    commit_failing_.store(false, std::memory_order_release);
    return absl::OkStatus();
  }
  const bool fatal = rd_kafka_error_is_fatal(error);
  absl::Status st = TxnError(error, "commit transaction");
  commit_failing_.store(true, std::memory_order_release);
  if (fatal) return absl::FailedPreconditionError(st.message());
  // An abort waits for the batch's outstanding messages; one that times out
  // says "retry call to resume", which is what it means.
  for (int attempt = 1;; ++attempt) {
    rd_kafka_error_t* ab = rd_kafka_abort_transaction(rk, 30000);
    if (ab == nullptr) break;
    const bool retry = rd_kafka_error_is_retriable(ab) && attempt < 3 &&
                       !(stop_ != nullptr && stop_->load(std::memory_order_acquire));
    absl::Status st_ab = TxnError(ab, "abort transaction");
    if (!retry) return absl::FailedPreconditionError(st_ab.message());
    Log(LogLevel::kWarn, "transaction_abort_retry", {{"error", std::string(st_ab.message())}});
  }
  in_transaction_ = false;
  produce_failed_ = false;
  txn_alert_origins_us_.clear();
  probe_->on_transaction(false);
  Log(LogLevel::kWarn, "transaction_aborted",
      {{"worker", absl::StrCat(index_)}, {"error", std::string(st.message())}});
  if (!shutting_down_) Rewind();
  return st;
}

void Worker::Rewind() {
  // What the aborted transaction did to the state is undone the way a new
  // owner would build it: from the changelog, then the input from the
  // committed offsets.
  unpublished_races_.clear();
  kafka::PartitionListPtr seek(rd_kafka_topic_partition_list_new(4));
  for (auto& [key, prog] : progress_) {
    const int32_t partition = key & kPartitionOf;
    if ((key & (kPostsKey | kRepartitionKey)) == 0) {
      DropRaces(partition);
      if (absl::Status st = Restore(partition); !st.ok()) {
        Log(LogLevel::kError, "restore_failed",
            {{"partition", absl::StrCat(partition)}, {"error", std::string(st.message())}});
      }
    }
    rd_kafka_topic_partition_list_add(seek.get(), TopicOf(key).c_str(), partition)->offset =
        prog.committed >= 0 ? prog.committed : RD_KAFKA_OFFSET_BEGINNING;
    prog.next = prog.committed;
    prog.pending.clear();
  }
  if (rd_kafka_error_t* e = rd_kafka_seek_partitions(consumer_->handle(), seek.get(), 10000)) {
    Log(LogLevel::kError, "rewind_failed", {{"error", rd_kafka_error_string(e)}});
    rd_kafka_error_destroy(e);
  }
  absl::SleepFor(absl::Milliseconds(200));  // a failing broker is not hammered
}

void Worker::OnRevoke(const rd_kafka_topic_partition_list_t* partitions) {
  probe_->on_rebalance();
  // Hand over cleanly: what we produced is delivered and committed before
  // the next owner starts from our committed offset.
  if (exactly_once_) {
    if (absl::Status st = CommitTransaction(); !st.ok()) {
      Log(LogLevel::kWarn, "commit_on_revoke", {{"error", std::string(st.message())}});
    }
  } else {
    if (absl::Status st = producer_->Flush(absl::Seconds(30)); !st.ok()) {
      Log(LogLevel::kError, "flush_on_revoke", {{"error", std::string(st.message())}});
    }
    if (absl::Status st = CommitProgress(/*sync=*/true, partitions); !st.ok()) {
      Log(LogLevel::kWarn, "commit_on_revoke", {{"error", std::string(st.message())}});
    }
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
    } else if ((key & kRepartitionKey) == 0) {
      DropRaces(p);
    }
  }
  CountAssigned();
}

void Worker::CountAssigned() {
  int tallies = 0;
  for (const auto& [key, prog] : progress_) tallies += (key & (kPostsKey | kRepartitionKey)) == 0;
  assigned_.store(tallies, std::memory_order_release);
}

void Worker::RefreshLag() {
  bool caught_up = joined();
  bool live = joined();
  for (auto& [key, prog] : progress_) {
    const std::string& topic = TopicOf(key);
    const int32_t partition = key & kPartitionOf;
    int64_t lo = -1, hi = -1;
    rd_kafka_get_watermark_offsets(consumer_->handle(), topic.c_str(), partition, &lo, &hi);
    if (hi < 0) {
      caught_up = false;
      continue;
    }
    const int64_t position = prog.next >= 0 ? prog.next : std::max<int64_t>(lo, prog.committed);
    const int64_t lag = std::max<int64_t>(0, hi - position);
    probe_->set_lag(topic, partition, lag);
    if (position < prog.restore_until) live = false;
    if (position < prog.restore_until || lag > 1000) caught_up = false;
  }
  caught_up_.store(caught_up, std::memory_order_release);
  live_.store(live, std::memory_order_release);
}

}  // namespace tallywire
