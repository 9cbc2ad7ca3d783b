#include "core/kafka/client.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/reason.h"
#include "core/status_macros.h"

namespace tallywire::kafka {
namespace {

int TimeoutMs(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

void OnError(rd_kafka_t* rk, int err, const char* reason, void*) {
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  // Transport errors on a bootstrap that is still starting are routine;
  // librdkafka retries them. Fatal errors end the client's usefulness.
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_fatal_error(rk, buf, sizeof(buf));
    Log(LogLevel::kError, "kafka_fatal", {{"client", rd_kafka_name(rk)}, {"reason", buf}});
    return;
  }
  Log(code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ? LogLevel::kWarn : LogLevel::kDebug,
      "kafka_error",
      {{"client", rd_kafka_name(rk)}, {"error", rd_kafka_err2name(code)}, {"reason", reason}});
}

void OnLog(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  // One configuration serves a service's producer and consumer, so each
  // warns about the other's properties: expected, not worth a line.
  if (absl::string_view(fac) == "CONFWARN") return;
  if (level <= 3) {
    Log(LogLevel::kError, "librdkafka", {{"facility", fac}, {"message", buf}});
  } else if (level <= 4) {
    Log(LogLevel::kWarn, "librdkafka", {{"facility", fac}, {"message", buf}});
  }
}

absl::StatusOr<HandlePtr> NewHandle(rd_kafka_type_t type, ConfPtr conf) {
  rd_kafka_conf_set_error_cb(conf.get(), OnError);
  rd_kafka_conf_set_log_cb(conf.get(), OnLog);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (rk == nullptr) return absl::InvalidArgumentError(absl::StrCat("rd_kafka_new: ", err));
  conf.release();  // rd_kafka_new took ownership
  return HandlePtr(rk);
}

// A topic created moments ago may not be in this broker's metadata yet:
// asks again until it is, or until the timeout.
absl::StatusOr<int> TopicPartitionCount(rd_kafka_t* rk, const std::string& topic,
                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  absl::StatusOr<int> result;
  for (;;) {
    const rd_kafka_metadata_t* md = nullptr;
    const int left = std::max(100, TimeoutMs(deadline - absl::Now()));
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, left);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_resp_err_t topic_err =
          md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
      const int n = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
      rd_kafka_metadata_destroy(md);
      result = topic_err ? absl::StatusOr<int>(KafkaError(topic_err, absl::StrCat("topic ", topic)))
               : n > 0   ? absl::StatusOr<int>(n)
                         : absl::NotFoundError(absl::StrCat("topic ", topic, " has no partitions"));
    } else {
      result = KafkaError(err, absl::StrCat("metadata for ", topic));
    }
    if (result.ok() || absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  rd_kafka_topic_destroy(rkt);
  return result;
}

}  // namespace

const char* SafeAssignmentStrategy() {
  constexpr int kFirstFixedVersion = 0x020300ff;
  return rd_kafka_version() >= kFirstFixedVersion ? "cooperative-sticky" : "roundrobin";
}

absl::Status KafkaError(rd_kafka_resp_err_t err, absl::string_view context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  // The reason is librdkafka's error name, so callers can tell errors apart
  // without parsing messages.
  return WithReason(rd_kafka_err2name(err),
                    absl::UnavailableError(absl::StrCat(context, ": ", rd_kafka_err2name(err), ": ",
                                                        rd_kafka_err2str(err))));
}

absl::string_view Payload(const rd_kafka_message_t& m) {
  return m.payload ? absl::string_view(static_cast<const char*>(m.payload), m.len)
                   : absl::string_view();
}
absl::string_view Key(const rd_kafka_message_t& m) {
  return m.key ? absl::string_view(static_cast<const char*>(m.key), m.key_len)
               : absl::string_view();
}
absl::string_view TopicName(const rd_kafka_message_t& m) {
  return m.rkt ? absl::string_view(rd_kafka_topic_name(m.rkt)) : absl::string_view();
}
int64_t TimestampMs(const rd_kafka_message_t& m) {
  rd_kafka_timestamp_type_t type;
  return rd_kafka_message_timestamp(&m, &type);
}
absl::string_view HeaderValue(const rd_kafka_message_t& m, absl::string_view name) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(&m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  const void* value = nullptr;
  size_t size = 0;
  std::string n(name);
  if (rd_kafka_header_get_last(hdrs, n.c_str(), &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return {};
  return {static_cast<const char*>(value), size};
}

// ---- producer ---------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(KafkaConfig cfg,
                                                           DeliveryCallback on_delivery) {
  cfg.SetDefault("enable.idempotence", "true");
  cfg.SetDefault("acks", "all");
  cfg.SetDefault("linger.ms", "5");
  TW_ASSIGN_OR_RETURN(ConfPtr conf, cfg.ToRdKafka());
  std::unique_ptr<Producer> p(new Producer());
  p->on_delivery_ = std::move(on_delivery);
  rd_kafka_conf_set_opaque(conf.get(), p.get());
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::OnDelivery);
  TW_ASSIGN_OR_RETURN(p->rk_, NewHandle(RD_KAFKA_PRODUCER, std::move(conf)));
  return p;
}

Producer::~Producer() {
  if (rk_ && rd_kafka_outq_len(rk_.get()) > 0) {
    rd_kafka_flush(rk_.get(), 5000);
    if (int left = rd_kafka_outq_len(rk_.get()); left > 0) {
      Log(LogLevel::kError, "producer_undelivered_at_exit",
          {{"client", rd_kafka_name(rk_.get())}, {"messages", absl::StrCat(left)}});
    }
  }
}

void Producer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  if (m->err) {
    self->failed_.fetch_add(1, std::memory_order_relaxed);
  } else {
    self->delivered_.fetch_add(1, std::memory_order_relaxed);
  }
  if (self->on_delivery_) {
    self->on_delivery_(Delivery{static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private)),
                                m->err, m->partition, m->offset});
  }
}

absl::Status Producer::Produce(const OutgoingMessage& msg) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (!msg.headers.empty()) {
    hdrs = rd_kafka_headers_new(msg.headers.size());
    for (const auto& [k, v] : msg.headers) {
      rd_kafka_header_add(hdrs, k.data(), k.size(), v.data(), v.size());
    }
  }
  std::string topic(msg.topic);
  // A full queue is served (back-pressure), but not forever: a broker that
  // takes nothing for queue_full_limit_ is an error the caller reports,
  // and a stop request ends the wait at once.
  const int64_t give_up = queue_full_limit_ == absl::InfiniteDuration()
                              ? INT64_MAX
                              : MonotonicNs() + absl::ToInt64Nanoseconds(queue_full_limit_);
  for (;;) {
    void* token = reinterpret_cast<void*>(static_cast<uintptr_t>(msg.token));
    char* value = const_cast<char*>(msg.value.data());
    rd_kafka_resp_err_t err =
        hdrs
            ? rd_kafka_producev(rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                RD_KAFKA_V_PARTITION(msg.partition),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_VALUE(value, msg.value.size()),
                                RD_KAFKA_V_KEY(msg.key.data(), msg.key.size()),
                                RD_KAFKA_V_TIMESTAMP(msg.timestamp_ms), RD_KAFKA_V_OPAQUE(token),
                                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END)
            : rd_kafka_producev(
                  rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(msg.partition),
                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                  RD_KAFKA_V_VALUE(value, msg.value.size()),
                  RD_KAFKA_V_KEY(msg.key.data(), msg.key.size()),
                  RD_KAFKA_V_TIMESTAMP(msg.timestamp_ms), RD_KAFKA_V_OPAQUE(token), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && MonotonicNs() < give_up &&
        (stop_ == nullptr || !stop_->load(std::memory_order_acquire))) {
      rd_kafka_poll(rk_.get(), 10);
      continue;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (hdrs) rd_kafka_headers_destroy(hdrs);  // not taken over on failure
      return KafkaError(err, absl::StrCat("produce to ", topic));
    }
    return absl::OkStatus();
  }
}

int Producer::Poll(absl::Duration timeout) { return rd_kafka_poll(rk_.get(), TimeoutMs(timeout)); }

absl::Status Producer::Flush(absl::Duration timeout) {
  rd_kafka_resp_err_t err = rd_kafka_flush(rk_.get(), TimeoutMs(timeout));
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return absl::DeadlineExceededError(
        absl::StrCat("flush: ", rd_kafka_outq_len(rk_.get()), " messages still undelivered"));
  }
  return KafkaError(err, "flush");
}

absl::StatusOr<int> Producer::PartitionCount(const std::string& topic, absl::Duration timeout) {
  return TopicPartitionCount(rk_.get(), topic, timeout);
}

// ---- consumer ---------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(KafkaConfig cfg, AssignHook on_assign,
                                                           RevokeHook on_revoke) {
  if (!cfg.Has("group.id")) return absl::InvalidArgumentError("consumer needs group.id");
  cfg.SetDefault("enable.auto.commit", "false");
  cfg.SetDefault("auto.offset.reset", "earliest");
  cfg.SetDefault("enable.partition.eof", "false");
  TW_ASSIGN_OR_RETURN(ConfPtr conf, cfg.ToRdKafka());
  std::unique_ptr<Consumer> c(new Consumer());
  c->on_assign_ = std::move(on_assign);
  c->on_revoke_ = std::move(on_revoke);
  rd_kafka_conf_set_opaque(conf.get(), c.get());
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Consumer::OnRebalance);
  TW_ASSIGN_OR_RETURN(c->rk_, NewHandle(RD_KAFKA_CONSUMER, std::move(conf)));
  rd_kafka_poll_set_consumer(c->rk_.get());
  return c;
}

Consumer::~Consumer() {
  if (absl::Status st = Close(); !st.ok()) {
    Log(LogLevel::kWarn, "consumer_close", {{"error", std::string(st.message())}});
  }
}

void Consumer::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  self->rebalances_.fetch_add(1, std::memory_order_relaxed);
  const bool cooperative = absl::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (self->on_assign_) self->on_assign_(partitions);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions)) {
        Log(LogLevel::kError, "assign_failed", {{"error", rd_kafka_error_string(e)}});
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk, partitions);
    }
  } else {
    if (self->on_revoke_) self->on_revoke_(partitions);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions)) {
        rd_kafka_error_destroy(e);
      }
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
}

absl::Status Consumer::Subscribe(const std::vector<std::string>& topics) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string& t : topics) {
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  return KafkaError(rd_kafka_subscribe(rk_.get(), list.get()), "subscribe");
}

MessagePtr Consumer::Poll(absl::Duration timeout) {
  return MessagePtr(rd_kafka_consumer_poll(rk_.get(), TimeoutMs(timeout)));
}

absl::Status Consumer::Assign(const std::string& topic, int partitions, int64_t offset) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = offset;
  }
  return KafkaError(rd_kafka_assign(rk_.get(), list.get()), "assign");
}

absl::StatusOr<int> Consumer::PartitionCount(const std::string& topic, absl::Duration timeout) {
  return TopicPartitionCount(rk_.get(), topic, timeout);
}

absl::Status Consumer::Commit(const rd_kafka_topic_partition_list_t& offsets, bool async) {
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), &offsets, async ? 1 : 0);
  if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return absl::OkStatus();
  return KafkaError(err, "commit");
}

absl::Status Consumer::Committed(rd_kafka_topic_partition_list_t* partitions,
                                 absl::Duration timeout) {
  return KafkaError(rd_kafka_committed(rk_.get(), partitions, TimeoutMs(timeout)), "committed");
}

absl::Status Consumer::Close() {
  if (closed_ || !rk_) return absl::OkStatus();
  closed_ = true;
  return KafkaError(rd_kafka_consumer_close(rk_.get()), "consumer close");
}

// ---- admin ------------------------------------------------------------------

absl::Status CreateTopics(const KafkaConfig& cfg, const std::vector<TopicSpec>& topics,
                          absl::Duration timeout) {
  KafkaConfig admin_cfg = cfg;
  TW_ASSIGN_OR_RETURN(ConfPtr conf, admin_cfg.ToRdKafka());
  TW_ASSIGN_OR_RETURN(HandlePtr rk, NewHandle(RD_KAFKA_PRODUCER, std::move(conf)));
  std::vector<rd_kafka_NewTopic_t*> new_topics;
  char err[512];
  absl::Status status;
  for (const TopicSpec& t : topics) {
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication_factor, err, sizeof(err));
    if (nt == nullptr) {
      status = absl::InvalidArgumentError(absl::StrCat("topic ", t.name, ": ", err));
      break;
    }
    for (const auto& [k, v] : t.configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    new_topics.push_back(nt);
  }
  if (status.ok()) {
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk.get());
    rd_kafka_AdminOptions_t* opts =
        rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, TimeoutMs(timeout), err, sizeof(err));
    rd_kafka_CreateTopics(rk.get(), new_topics.data(), new_topics.size(), opts, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, TimeoutMs(timeout) + 5000);
    if (ev == nullptr) {
      status = absl::DeadlineExceededError("create topics: no answer from the cluster");
    } else if (rd_kafka_event_error(ev)) {
      status =
          absl::UnavailableError(absl::StrCat("create topics: ", rd_kafka_event_error_string(ev)));
    } else {
      size_t n = 0;
      const rd_kafka_topic_result_t** results =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
      for (size_t i = 0; i < n && status.ok(); ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          const char* msg = rd_kafka_topic_result_error_string(results[i]);
          status = absl::UnavailableError(absl::StrCat("create topic ",
                                                       rd_kafka_topic_result_name(results[i]), ": ",
                                                       msg ? msg : rd_kafka_err2str(e)));
        }
      }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
  }
  rd_kafka_NewTopic_destroy_array(new_topics.data(), new_topics.size());
  TW_RETURN_IF_ERROR(status);
  // Creation is asynchronous on a real cluster: wait until every topic has a
  // leader for every partition, so the next client does not race it.
  std::vector<std::string> names;
  for (const TopicSpec& t : topics) names.push_back(t.name);
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<std::vector<TopicDescription>> desc = DescribeTopics(cfg, names, timeout);
    bool ready = desc.ok();
    for (size_t i = 0; ready && i < desc->size(); ++i) {
      const TopicDescription& d = (*desc)[i];
      ready = d.partitions > 0;
      for (int32_t leader : d.leaders) ready = ready && leader >= 0;
    }
    if (ready) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("created topics did not get leaders in time");
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}
absl::StatusOr<std::vector<TopicDescription>> DescribeTopics(const KafkaConfig& cfg,
                                                             const std::vector<std::string>& names,
                                                             absl::Duration timeout) {
  TW_ASSIGN_OR_RETURN(ConfPtr conf, cfg.ToRdKafka());
  TW_ASSIGN_OR_RETURN(HandlePtr rk, NewHandle(RD_KAFKA_PRODUCER, std::move(conf)));
  const rd_kafka_metadata_t* md = nullptr;
  TW_RETURN_IF_ERROR(
      KafkaError(rd_kafka_metadata(rk.get(), 1, nullptr, &md, TimeoutMs(timeout)), "metadata"));
  std::vector<TopicDescription> out;
  for (const std::string& name : names) {
    TopicDescription d;
    d.name = name;
    for (int i = 0; i < md->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& t = md->topics[i];
      if (name != t.topic || t.err) continue;
      d.partitions = t.partition_cnt;
      for (int p = 0; p < t.partition_cnt; ++p) {
        d.replication_factor = std::max(d.replication_factor, t.partitions[p].replica_cnt);
        d.leaders.push_back(t.partitions[p].leader);
      }
    }
    out.push_back(std::move(d));
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

}  // namespace tallywire::kafka
