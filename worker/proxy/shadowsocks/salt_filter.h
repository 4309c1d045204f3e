#pragma once
// SaltFilter: remembers the salts a server has seen (and sent) so that a recorded
// connection replayed later is refused (spec/shadowsocks.md; shadowsocks-libev does the
// same with its ping-pong Bloom filter). Two generations of a bounded set: when the
// current one is full it becomes the previous one and the oldest is forgotten, so memory
// stays bounded. One filter per inbound, in one worker: a replay sent to another worker
// process is not seen (the kernel spreads connections over workers).

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <unordered_set>

namespace xsup::worker::proxy::shadowsocks {

class SaltFilter {
 public:
  // About 40 bytes a salt: two generations of 64 Ki salts stay under 6 MB.
  explicit SaltFilter(std::size_t generation_size = 64 * 1024)
      : generation_size_(generation_size) {}
  // Shadowsocks 2022 (B.2: "not seen in the last 60 s"): a generation also ends when it is
  // `lifetime` old, so a salt is remembered for lifetime..2*lifetime unless more than
  // `generation_size` arrive within one lifetime.
  SaltFilter(std::size_t generation_size, std::chrono::seconds lifetime)
      : generation_size_(generation_size), lifetime_(lifetime) {}

  // True when `salt` is new (it is remembered from now on); false for a replay.
  bool insert(std::span<const std::uint8_t> salt);
  bool contains(std::span<const std::uint8_t> salt) const;

 private:
  // Salts are random: their first 16 bytes identify them, and their first 8 hash them.
  using Fingerprint = std::array<std::uint8_t, 16>;
  struct Hash {
    std::size_t operator()(const Fingerprint& f) const {
      std::size_t h;
      std::memcpy(&h, f.data(), sizeof h);
      return h;
    }
  };
  static Fingerprint fingerprint(std::span<const std::uint8_t> salt);

  std::size_t generation_size_;
  std::chrono::seconds lifetime_{0};
  std::chrono::steady_clock::time_point generation_start_ = std::chrono::steady_clock::now();
  std::unordered_set<Fingerprint, Hash> current_;
  std::unordered_set<Fingerprint, Hash> previous_;
};

}  // namespace xsup::worker::proxy::shadowsocks
