// The social side of the aggregator, around the workers that own the posts
// partitions:
//   MentionBoard  where readers find each owned partition's windows;
//   CatalogFeed   the current MentionCatalog, rebuilt from race definitions;
//   SocialLoop    one thread that runs the burst detector over the merged
//                 windows.
//
//   SocialLoop loop(options, &board, &catalogs, &probe, ready);
//   TW_RETURN_IF_ERROR(loop.Init());
//   std::thread t([&] { loop.Run(&stop); });
//
// Design: posts are keyed by post id and spread over partitions, so one
// candidate's mentions are counted by many partition owners (each the only
// writer of its windows). Bursts need the sum: the loop reads every board
// entry's published view (seqlock; never blocks a writer), merges them and
// decides. The definition table's thread (consumers/state/definitions.h),
// which reads every race definition, is the catalog's one writer (Define,
// from its listener); workers load the current catalog per post with one
// acquire load, and old catalogs live until the service stops.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "consumers/alerts/burst.h"
#include "consumers/service/probe.h"
#include "consumers/service/service.h"
#include "consumers/social/catalog.h"
#include "consumers/social/windows.h"
#include "core/kafka/client.h"

namespace tallywire {

class MentionBoard {
 public:
  void Publish(int32_t partition, std::shared_ptr<const MentionWindows> w) {
    std::lock_guard<std::mutex> lock(mu_);
    windows_[partition] = std::move(w);
  }
  void Withdraw(int32_t partition, const MentionWindows* w) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = windows_.find(partition);
    if (it != windows_.end() && it->second.get() == w) windows_.erase(it);
  }
  // Every owned partition's last published view, merged.
  MentionsView Merged(size_t hashtag_limit) const;

 private:
  mutable std::mutex mu_;  // the map only: changes on rebalance
  std::map<int32_t, std::shared_ptr<const MentionWindows>> windows_;
};

class CatalogFeed {
 public:
  CatalogFeed() : current_(&empty_) {}
  const MentionCatalog& current() const { return *current_.load(std::memory_order_acquire); }
  // Any thread; writers serialize on a mutex readers never take.
  void Define(const RaceDefinitionEvent& race, const ExtraTerms& extra);

 private:
  std::mutex define_mu_;
  MentionCatalog empty_;
  std::atomic<const MentionCatalog*> current_;
  std::vector<std::unique_ptr<const MentionCatalog>> all_;
};

class SocialLoop {
 public:
  SocialLoop(const ServiceOptions& options, const MentionBoard* board, CatalogFeed* catalogs,
             ServiceProbe* probe, std::function<bool()> ready);
  absl::Status Init();
  absl::Status Run(const std::atomic<bool>* stop);

 private:
  void DetectBursts();

  const ServiceOptions& options_;
  const MentionBoard* board_;
  CatalogFeed* catalogs_;
  ServiceProbe* probe_;
  std::function<bool()> ready_;
  BurstDetector detector_;
  std::unique_ptr<kafka::Producer> producer_;
  AlignedBytes aligned_;
  std::vector<AlertEvent> fired_;
};

}  // namespace tallywire
