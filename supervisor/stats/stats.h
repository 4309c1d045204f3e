#pragma once
// Traffic statistics in the supervisor (DESIGN.md §4): workers send per-second deltas;
// this keeps every counter's total (the store's plus what is not flushed yet), live rates
// over the last second, and writes the pending deltas to the store in one transaction per
// flush (xsup.statsFlushInterval).
//
// Counters are Xray's: user>>>EMAIL>>>traffic>>>uplink|downlink, inbound>>>TAG>>>…,
// outbound>>>TAG>>>…; bytes are payload bytes (worker/core/traffic.h).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "supervisor/store/store.h"

namespace xsup::supervisor::stats {

using store::CounterKey;
using store::Traffic;

class Stats {
 public:
  explicit Stats(store::Store& store);

  // Reads the totals from the store.
  void load();
  // A worker's `stats` message ({users, inbounds, outbounds}); returns the emails whose
  // counters moved. Malformed parts are ignored (the channel checked the envelope).
  std::vector<std::string> add(const nlohmann::json& message);
  // Once a second: the deltas of the last second become the live rates.
  void tick();
  // Writes the pending deltas (minute of `now`, unix seconds); on failure they stay pending
  // and the error is thrown again.
  void flush(std::int64_t now);
  bool has_pending() const { return !pending_.empty(); }

  Traffic total(const CounterKey& key) const;
  std::uint64_t used(const std::string& email) const;  // uplink + downlink
  // Zeroes a counter (store and memory); `forget` also drops it from memory (deleted user).
  void reset(const CounterKey& key);
  void forget(const CounterKey& key);

  // {"user>>>a>>>traffic>>>uplink": bytes, …}; only the user's counters when `user` is set.
  nlohmann::json counters(const std::optional<std::string>& user) const;
  // {"users":{name:{uplink,downlink,connections,uplink_rate,downlink_rate}},"inbounds":…,
  //  "outbounds":…}; rates in bytes per second.
  nlohmann::json report(const std::optional<std::string>& user) const;

 private:
  store::Store& store_;
  std::map<CounterKey, Traffic> totals_;
  std::map<CounterKey, Traffic> pending_;
  std::map<CounterKey, Traffic> window_;  // this second
  std::map<CounterKey, Traffic> rates_;   // the last whole second
};

}  // namespace xsup::supervisor::stats
