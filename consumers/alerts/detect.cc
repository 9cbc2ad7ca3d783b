#include "consumers/alerts/detect.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
        // leader_ is kept only by the leader-change rule; with it off, the
        // leader is whoever has the most votes now.
        int leader = leader_;
        if (leader < 0) {
          leader = 0;
          for (int c = 1; c < k; ++c) {
            if (race.votes(c) > race.votes(leader)) leader = c;
          }
        }
        AlertEvent a = Make(race, t, wire::AlertKind::RunoffCertain, leader, maj, 1);
        a.message = absl::StrCat("Runoff certain: no candidate can reach ", ThresholdText(maj),
                                 " (leader ", m.candidates[leader].name, " ",
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

}  // namespace tallywire
