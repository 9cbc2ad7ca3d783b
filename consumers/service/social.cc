#include "consumers/service/social.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/clock.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "core/status_macros.h"

namespace tallywire {

MentionsView MentionBoard::Merged(size_t hashtag_limit) const {
  std::vector<std::shared_ptr<const MentionWindows>> owned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [p, w] : windows_) owned.push_back(w);
  }
  std::vector<MentionsView> views;
  for (const auto& w : owned) views.push_back(w->Read());
  return MergeViews(views, hashtag_limit);
}

void CatalogFeed::Define(const RaceDefinitionEvent& race, const ExtraTerms& extra) {
  // Writers: the definition table's thread, and a worker merging a
  // definition found on the tallies topic. Readers never take it.
  std::lock_guard<std::mutex> lock(define_mu_);
  const MentionCatalog& now = current();
  auto next = std::make_unique<MentionCatalog>(MentionCatalog::With(now, race, extra));
  if (next->slots().size() == now.slots().size()) return;  // nothing new
  current_.store(next.get(), std::memory_order_release);
  all_.push_back(std::move(next));
}

SocialLoop::SocialLoop(const ServiceOptions& options, const MentionBoard* board,
                       CatalogFeed* catalogs, ServiceProbe* probe, std::function<bool()> ready)
    : options_(options),
      board_(board),
      catalogs_(catalogs),
      probe_(probe),
      ready_(std::move(ready)),
      detector_(options.social.burst) {}

absl::Status SocialLoop::Init() {
  kafka::KafkaConfig pcfg = options_.kafka;
  pcfg.SetDefault("client.id", "tallywire-bursts");
  TW_ASSIGN_OR_RETURN(
      producer_, kafka::Producer::Create(pcfg, [this](const kafka::Delivery& d) {
        if (d.error) {
          probe_->on_alert_failed();
          Log(LogLevel::kError, "alert_undelivered", {{"error", rd_kafka_err2str(d.error)}});
        }
      }));
  return absl::OkStatus();
}

void SocialLoop::DetectBursts() {
  // While any worker replays its partitions the views are half built. Lag
  // alone does not stop it: a service behind the log still sees bursts.
  if (!ready_()) return;
  const MentionsView view = board_->Merged(options_.social.windows.hashtag_limit);
  fired_.clear();
  detector_.Detect(view, catalogs_->current().slots(), NowUnixMs(), &fired_);
  for (AlertEvent& a : fired_) {
    a.produce_time_ms = a.detect_time_ms;  // many posts trigger it, no single one
    a.source_topic = options_.topics.posts;
    const std::string bytes = EncodeAlert(a);
    if (absl::Status st =
            producer_->Produce({.topic = options_.topics.alerts, .key = a.race_id, .value = bytes});
        !st.ok()) {
      probe_->on_alert_failed();
      Log(LogLevel::kError, "alert_failed", {{"id", a.id}, {"error", std::string(st.message())}});
      continue;
    }
    probe_->on_alert(static_cast<int>(a.kind));
    Log(LogLevel::kInfo, "alert", {{"id", a.id}, {"message", a.message}});
  }
}

absl::Status SocialLoop::Run(const std::atomic<bool>* stop) {
  const int64_t every = absl::ToInt64Nanoseconds(options_.social.publish_interval);
  int64_t last = MonotonicNs();
  while (!stop->load(std::memory_order_acquire)) {
    producer_->Poll(absl::Milliseconds(20));
    if (MonotonicNs() - last >= every) {
      DetectBursts();
      last = MonotonicNs();
    }
  }
  absl::Status st = producer_->Flush(absl::Seconds(30));
  return st;
}

std::string MentionsJson(const MentionsView& view, const MentionCatalog& catalog,
                         absl::string_view race_id) {
  std::vector<int32_t> slots;
  if (race_id.empty()) {
    for (size_t s = 0; s < catalog.slots().size(); ++s) slots.push_back(static_cast<int32_t>(s));
  } else {
    slots = catalog.SlotsOf(race_id);
  }
  JsonWriter w;
  auto mentions = [&](const std::vector<int64_t>& counts) {
    std::vector<std::pair<int64_t, int32_t>> order;
    for (int32_t s : slots) {
      order.push_back({static_cast<size_t>(s) < counts.size() ? counts[s] : 0, s});
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    w.BeginArray();
    for (const auto& [count, slot] : order) {
      const MentionSlot& m = catalog.slots()[slot];
      w.BeginObject().Key("race_id").String(m.race_id).Key("candidate_id").String(m.candidate_id);
      w.Key("name").String(m.candidate_name).Key("mentions").Int(count).EndObject();
    }
    w.EndArray();
  };
  w.BeginObject().Key("race_id");
  if (race_id.empty()) {
    w.Null();
  } else {
    w.String(race_id);
  }
  w.Key("max_event_time_ms").Int(view.max_event_ms).Key("watermark_ms").Int(view.watermark_ms);
  w.Key("posts").Int(view.posts).Key("late").Int(view.late).Key("duplicates").Int(view.duplicates);
  w.Key("mentions");
  mentions(view.mentions);
  w.Key("windows").BeginArray();
  for (const WindowCounts& win : view.windows) {
    w.BeginObject().Key("span_s").Int(win.span_ms / 1000).Key("posts").Int(win.posts);
    w.Key("posts_per_minute").Double(win.span_ms > 0 ? win.posts * 60000.0 / win.span_ms : 0.0, 1);
    w.Key("mentions");
    mentions(win.mentions);
    w.Key("hashtags").BeginObject().Key("error_bound").Int(win.hashtags.floor);
    w.Key("top").BeginArray();
    for (const TopKItem& t : win.hashtags.items) {
      w.BeginObject().Key("tag").String(t.item).Key("count").Int(t.upper);
      w.Key("at_least").Int(t.lower).EndObject();
    }
    w.EndArray().EndObject().EndObject();
  }
  w.EndArray().EndObject();
  return std::move(w).Finish();
}

}  // namespace tallywire
