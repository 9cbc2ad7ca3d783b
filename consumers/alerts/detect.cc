#include "consumers/alerts/detect.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/clock.h"

namespace tallywire {

std::string FormatPercentBp(int64_t bp) {
  return absl::StrFormat("%d.%02d %%", bp / 100, bp % 100);
}

namespace {
std::string ThresholdText(int32_t bp) { return absl::StrFormat("%.1f %%", bp / 100.0); }
}  // namespace

RaceDetector::RaceDetector(const AlertRules& rules, const RaceModel& model)
    : rules_(rules),
      side_(model.candidate_count() * rules.thresholds_bp.size(), Side::kBelow),
      fired_(side_.size(), 0),
      milestone_fired_(rules.milestones_bp.size(), false) {}

AlertEvent RaceDetector::Make(const RaceState& race, const Trigger& t, wire::AlertKind kind,
                              int candidate, int32_t threshold_bp, uint32_t seq) const {
  const RaceModel& m = race.model();
  AlertEvent a;
  a.kind = kind;
  a.race_id = m.race_id;
  if (candidate >= 0) {
    a.candidate_id = m.candidates[candidate].id;
    a.candidate_name = m.candidates[candidate].name;
    a.votes = race.votes(candidate);
    a.share_bp = ShareBp(a.votes, race.total_votes());
  }
  a.threshold_bp = threshold_bp;
  a.total_votes = race.total_votes();
  a.precincts_reporting = static_cast<int32_t>(race.precincts_reporting());
  a.precincts_total = static_cast<int32_t>(race.precincts_total());
  a.event_time_ms = t.event_time_ms;
  a.produce_time_ms = t.produce_time_ms;
  a.detect_time_ms = NowUnixMs();
  a.source_topic = std::string(t.topic);
  a.source_partition = t.partition;
  a.source_offset = t.offset;
  a.id = absl::StrCat(m.race_id, "/", AlertKindName(kind), "/", a.candidate_id, "/", threshold_bp,
                      "/", seq);
  return a;
}

void RaceDetector::Detect(const RaceState& race, const Trigger& t, std::vector<AlertEvent>* out) {
  const RaceModel& m = race.model();
  const int64_t total = race.total_votes();
  if (total <= 0) return;
  const int64_t reporting = race.precincts_reporting();
  const int64_t precincts = std::max<int64_t>(1, race.precincts_total());
  const int64_t reporting_pct = reporting * 100 / precincts;
  const std::string reporting_text = absl::StrCat(reporting_pct, " % of precincts reporting");
  const int k = static_cast<int>(m.candidate_count());

  // Share crossings, gated on a minimum of precincts reporting.
  if (reporting * 10000 >= int64_t{rules_.min_reporting_bp} * precincts) {
    for (int c = 0; c < k; ++c) {
      const int64_t v = race.votes(c);
      for (size_t i = 0; i < rules_.thresholds_bp.size(); ++i) {
        const int64_t th = rules_.thresholds_bp[i];
        const size_t slot = c * rules_.thresholds_bp.size() + i;
        const bool above = v * 10000 > (th + rules_.hysteresis_bp) * total;
        const bool below = v * 10000 < (th - rules_.hysteresis_bp) * total;
        if (side_[slot] == Side::kBelow && above) {
          side_[slot] = Side::kAbove;
          AlertEvent a = Make(race, t, wire::AlertKind::ThresholdCrossedUp, c,
                              static_cast<int32_t>(th), ++fired_[slot]);
          a.message = absl::StrCat(m.candidates[c].name, " rose above ", ThresholdText(th), " (",
                                   FormatPercentBp(a.share_bp), ", ", reporting_text, ")");
          out->push_back(std::move(a));
        } else if (side_[slot] == Side::kAbove && below) {
          side_[slot] = Side::kBelow;
          AlertEvent a = Make(race, t, wire::AlertKind::ThresholdCrossedDown, c,
                              static_cast<int32_t>(th), ++fired_[slot]);
          a.message = absl::StrCat(m.candidates[c].name, " fell below ", ThresholdText(th), " (",
                                   FormatPercentBp(a.share_bp), ", ", reporting_text, ")");
          out->push_back(std::move(a));
        }
      }
    }
  }

  if (rules_.leader_change) {
    // A new leader must lead by more than the hysteresis band (a share of
    // all votes), so a near-tie does not flap.
    int top = 0;
    for (int c = 1; c < k; ++c) {
      if (race.votes(c) > race.votes(top)) top = c;
    }
    int leader = leader_;
    if (leader_ < 0 || (top != leader_ && (race.votes(top) - race.votes(leader_)) * 10000 >
                                              int64_t{rules_.hysteresis_bp} * total)) {
      leader = top;
    }
    if (leader != leader_) {
      AlertEvent a = Make(race, t, wire::AlertKind::LeaderChange, leader, 0, ++leader_changes_);
      if (leader_ >= 0) a.previous_candidate_id = m.candidates[leader_].id;
      a.message = leader_ < 0
                      ? absl::StrCat(m.candidates[leader].name, " leads (",
                                     FormatPercentBp(a.share_bp), ", ", reporting_text, ")")
                      : absl::StrCat(m.candidates[leader].name, " takes the lead from ",
                                     m.candidates[leader_].name, " (", FormatPercentBp(a.share_bp),
                                     ", ", reporting_text, ")");
      leader_ = leader;
      out->push_back(std::move(a));
    }
  }

  // Certainty needs every open precinct's registered voters known: R is the
  // most votes still to come.
  if (race.open_precincts_with_unknown_registration() == 0) {
    const int64_t r = race.uncounted_registered();
    const int64_t maj = m.majority_threshold_bp;
    if (rules_.runoff_certain && !runoff_fired_) {
      bool anyone_can_win = false;
      for (int c = 0; c < k && !anyone_can_win; ++c) {
        anyone_can_win = (race.votes(c) + r) * 10000 > maj * (total + r);
      }
      if (!anyone_can_win) {
        runoff_fired_ = true;
        // The current top, not leader_: with leader_change off it is never set.
        int top = 0;
        for (int c = 1; c < k; ++c) {
          if (race.votes(c) > race.votes(top)) top = c;
        }
        AlertEvent a = Make(race, t, wire::AlertKind::RunoffCertain, top, maj, 1);
        a.message = absl::StrCat("Runoff certain: no candidate can reach ", ThresholdText(maj),
                                 " (leader ", m.candidates[top].name, " ",
                                 FormatPercentBp(a.share_bp), ", ", reporting_text, ")");
        out->push_back(std::move(a));
      }
    }
    if (rules_.winner_certain && !winner_fired_) {
      for (int c = 0; c < k; ++c) {
        if (race.votes(c) * 10000 > maj * (total + r)) {
          winner_fired_ = true;
          AlertEvent a = Make(race, t, wire::AlertKind::WinnerCertain, c, maj, 1);
          a.message = absl::StrCat(m.candidates[c].name, " is certain to win (",
                                   FormatPercentBp(a.share_bp), ", ", reporting_text, ")");
          out->push_back(std::move(a));
          break;
        }
      }
    }
  }

  for (size_t i = 0; i < rules_.milestones_bp.size(); ++i) {
    if (!milestone_fired_[i] && reporting * 10000 >= int64_t{rules_.milestones_bp[i]} * precincts) {
      milestone_fired_[i] = true;
      AlertEvent a =
          Make(race, t, wire::AlertKind::ReportingMilestone, -1, rules_.milestones_bp[i], 1);
      a.message = absl::StrCat(m.name.empty() ? m.race_id : m.name, ": ",
                               rules_.milestones_bp[i] / 100, " % of precincts reporting (",
                               reporting, " of ", race.precincts_total(), ")");
      out->push_back(std::move(a));
    }
  }
}

// Text, one field per token: "v1 k=3 t=2 leader=1 changes=2 runoff=0
// winner=1 side=0110.. fired=1,0,.. milestones=01". Only tallywire writes
// the changelog, but a restore still checks every field.
std::string RaceDetector::SaveState() const {
  std::string side, milestones;
  for (Side s : side_) side.push_back(s == Side::kAbove ? '1' : '0');
  for (bool b : milestone_fired_) milestones.push_back(b ? '1' : '0');
  return absl::StrCat("v1 k=", side_.size() / std::max<size_t>(1, rules_.thresholds_bp.size()),
                      " t=", rules_.thresholds_bp.size(), " leader=", leader_,
                      " changes=", leader_changes_, " runoff=", int{runoff_fired_},
                      " winner=", int{winner_fired_}, " side=", side.empty() ? "-" : side,
                      " fired=", fired_.empty() ? "-" : absl::StrJoin(fired_, ","),
                      " milestones=", milestones.empty() ? "-" : milestones);
}

absl::Status RaceDetector::LoadState(absl::string_view bytes) {
  auto bad = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat("detector state: ", what));
  };
  std::vector<absl::string_view> f = absl::StrSplit(bytes, ' ');
  if (f.size() != 10 || f[0] != "v1") return bad("unknown format");
  auto value = [&](size_t i, absl::string_view name) -> absl::string_view {
    absl::string_view s = f[i];
    if (!absl::ConsumePrefix(&s, name) || !absl::ConsumePrefix(&s, "=")) return {};
    return s == "-" ? absl::string_view("") : s;
  };
  const size_t t = rules_.thresholds_bp.size();
  const size_t k = t == 0 ? 0 : side_.size() / t;
  int64_t got_k = 0, got_t = 0, leader = 0, changes = 0;
  if (!absl::SimpleAtoi(value(1, "k"), &got_k) || !absl::SimpleAtoi(value(2, "t"), &got_t) ||
      static_cast<size_t>(got_t) != t || got_k < 0 || static_cast<size_t>(got_k) > k) {
    return bad("rules or candidates differ");
  }
  if (!absl::SimpleAtoi(value(3, "leader"), &leader) || leader < -1 || leader >= got_k ||
      !absl::SimpleAtoi(value(4, "changes"), &changes) || changes < 0 || changes > UINT32_MAX) {
    return bad("leader");
  }
  const absl::string_view runoff = value(5, "runoff"), winner = value(6, "winner");
  const absl::string_view side = value(7, "side"), milestones = value(9, "milestones");
  std::vector<absl::string_view> fired;
  if (!value(8, "fired").empty()) fired = absl::StrSplit(value(8, "fired"), ',');
  const size_t slots = static_cast<size_t>(got_k) * t;
  if ((runoff != "0" && runoff != "1") || (winner != "0" && winner != "1") ||
      side.size() != slots || fired.size() != slots ||
      milestones.size() != milestone_fired_.size()) {
    return bad("field sizes");
  }
  std::vector<uint32_t> fired_counts(slots);
  for (size_t i = 0; i < slots; ++i) {
    if (!absl::SimpleAtoi(fired[i], &fired_counts[i])) return bad("fired");
    if (side[i] != '0' && side[i] != '1') return bad("side");
  }
  for (char c : milestones) {
    if (c != '0' && c != '1') return bad("milestones");
  }
  // Valid: commit it. Candidates beyond got_k (added since) stay below.
  for (size_t i = 0; i < slots; ++i) {
    side_[i] = side[i] == '1' ? Side::kAbove : Side::kBelow;
    fired_[i] = fired_counts[i];
  }
  for (size_t i = 0; i < milestones.size(); ++i) milestone_fired_[i] = milestones[i] == '1';
  leader_ = static_cast<int>(leader);
  leader_changes_ = static_cast<uint32_t>(changes);
  runoff_fired_ = runoff == "1";
  winner_fired_ = winner == "1";
  return absl::OkStatus();
}

void RaceDetector::Grow(size_t candidates) {
  const size_t slots = candidates * rules_.thresholds_bp.size();
  if (slots > side_.size()) {
    side_.resize(slots, Side::kBelow);
    fired_.resize(slots, 0);
  }
}

}  // namespace tallywire
