// Fuzz target: a rules file, then a run of messages on one tallies
// partition, handled as Worker does (consumers/service/worker.cc) without
// Kafka: definitions define or replace races, tallies are decoded, applied
// and judged by the race's detector, and every alert it fires must encode
// and decode as an alert. The decode → apply → detect stages together,
// with state carried from one message to the next.
//
// Input: records of a 2-byte little-endian length and that many bytes; the
// first is the rules file (consumers/alerts/rules.h), the rest messages.
// fuzz/seeds/make_streams.py writes the seeds.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "consumers/alerts/detect.h"
#include "consumers/alerts/follow.h"
#include "consumers/alerts/rules.h"
#include "consumers/tally/decode.h"
#include "consumers/tally/race.h"
#include "core/codec.h"
#include "core/log.h"
#include "fuzz/records.h"
#include "fuzz/temp_file.h"

namespace {

struct OwnedRace {
  std::unique_ptr<tallywire::RaceState> state;
  std::unique_ptr<tallywire::RaceDetector> detector;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tallywire::SetLogQuiet(true);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tallywire;
  const std::vector<fuzz::Record> records = fuzz::SplitRecords(data, size);
  if (records.empty()) return 0;
  absl::StatusOr<AlertRules> rules =
      AlertRules::FromFile(fuzz::WriteScratch("conf", records[0].data, records[0].size));
  if (!rules.ok()) return 0;  // the service refuses to start

  std::map<std::string, OwnedRace, std::less<>> races;
  AlignedBytes aligned, alert_aligned;
  std::vector<AlertEvent> alerts;
  for (size_t i = 1; i < records.size(); ++i) {
    const absl::Span<const uint8_t> bytes = aligned.Align({records[i].data, records[i].size});
    absl::StatusOr<MessageKind> kind = IdentifyMessage(bytes);
    if (!kind.ok()) continue;
    if (*kind == MessageKind::kRaceDefinition) {
      absl::StatusOr<const wire::RaceDefinition*> def = DecodeRaceDefinition(bytes);
      if (!def.ok()) continue;
      absl::StatusOr<std::shared_ptr<const RaceModel>> model = RaceModel::FromWire(**def);
      if (!model.ok()) continue;
      auto it = races.find((*model)->race_id);
      if (it != races.end()) {
        const RaceModel& have = it->second.state->model();
        if ((*model)->version <= have.version || (*model)->SameShape(have)) continue;
        races.erase(it);
      }
      OwnedRace owned{std::make_unique<RaceState>(*model),
                      std::make_unique<RaceDetector>(*rules, **model)};
      races.emplace((*model)->race_id, std::move(owned));
      continue;
    }
    if (*kind != MessageKind::kTally) continue;
    OwnedRace* owned = nullptr;
    absl::StatusOr<DecodedTally> d = DecodeTallyFor(bytes, [&](absl::string_view id) {
      auto it = races.find(id);
      if (it == races.end()) return static_cast<RaceState*>(nullptr);
      owned = &it->second;
      return it->second.state.get();
    });
    if (!d.ok()) continue;
    if (d->race->Apply(d->update) == RaceState::Applied::kStale) continue;
    alerts.clear();
    const Trigger trigger{d->update.event_time_ms, static_cast<int64_t>(i), "tallies", 0,
                          static_cast<int64_t>(i)};
    owned->detector->Detect(*d->race, trigger, &alerts);
    for (const AlertEvent& a : alerts) {
      const std::string encoded = EncodeAlert(a);
      if (!DecodeAlert(alert_aligned.Align(AsBytes(encoded))).ok()) std::abort();
      (void)FormatAlertLine(a);
    }
    if (i % 4 == 0) d->race->Publish();  // batches, as the worker publishes
  }
  for (auto& [id, owned] : races) {
    owned.state->Publish();
    (void)owned.state->Snapshot();
  }
  return 0;
}
