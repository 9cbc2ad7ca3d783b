// RaceDirectory: where readers (HTTP, the demo board, tests) find the races
// the workers own. Workers publish a race when its definition arrives and
// withdraw it when its partition is revoked; readers list and snapshot.
//
//   directory.Publish(state);                    // worker, on a definition
//   for (auto& r : directory.List()) r->Snapshot();   // any thread
//
// The mutex guards only the map, which changes on definitions and
// rebalances, never per tally; snapshots are read through each race's own
// seqlock after the lock is released.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "consumers/tally/race.h"

namespace tallywire {

class RaceDirectory {
 public:
  void Publish(std::shared_ptr<const RaceState> race) {
    std::lock_guard<std::mutex> lock(mu_);
    races_[race->model().race_id] = std::move(race);
  }
  // Withdraws only if the directory still holds this very object.
  void Withdraw(const RaceState* race) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = races_.find(race->model().race_id);
    if (it != races_.end() && it->second.get() == race) races_.erase(it);
  }
  std::vector<std::shared_ptr<const RaceState>> List() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<const RaceState>> out;
    for (const auto& [id, r] : races_) out.push_back(r);
    return out;
  }
  std::shared_ptr<const RaceState> Find(const std::string& race_id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = races_.find(race_id);
    return it == races_.end() ? nullptr : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const RaceState>> races_;
};

}  // namespace tallywire
