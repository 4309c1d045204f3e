#pragma once
// A replay filter with a time horizon: keys seen in the current or the previous period
// are replays; every `period` the older generation is dropped, so a key is remembered for
// between one and two periods (as Xray's antireplay.ReplayFilter). Used for AuthIDs
// (120 s, spec/vmess.md §2) and for request sessions (UUID, BodyKey, BodyIV; 180 s, §3.1).
//
// One filter per inbound in each worker: a replay reaching another worker process of the
// same port is not seen (each worker checks its own connections).

#include <chrono>
#include <cstdint>
#include <cstring>
#include <unordered_set>

namespace xsup::worker::proxy::vmess {

template <std::size_t N>
class ReplayFilter {
 public:
  using Key = std::array<std::uint8_t, N>;
  using Clock = std::chrono::steady_clock;

  explicit ReplayFilter(Clock::duration period) : period_(period) {}

  // True (and remembered) when `key` is new; false for a replay.
  bool check_and_insert(const Key& key, Clock::time_point now = Clock::now()) {
    if (now - rotated_ >= period_) {
      previous_ = std::move(current_);
      current_.clear();
      if (now - rotated_ >= 2 * period_) previous_.clear();
      rotated_ = now;
    }
    if (previous_.contains(key)) return false;
    return current_.insert(key).second;
  }

  std::size_t size() const { return current_.size() + previous_.size(); }

 private:
  struct Hash {
    std::size_t operator()(const Key& k) const {
      std::size_t h = 0;
      for (std::size_t i = 0; i + sizeof h <= N; i += sizeof h) {
        std::size_t part;
        std::memcpy(&part, k.data() + i, sizeof part);
        h = h * 0x100000001B3ULL ^ part;
      }
      return h;
    }
  };
  Clock::duration period_;
  Clock::time_point rotated_ = Clock::now();
  std::unordered_set<Key, Hash> current_;
  std::unordered_set<Key, Hash> previous_;
};

}  // namespace xsup::worker::proxy::vmess
