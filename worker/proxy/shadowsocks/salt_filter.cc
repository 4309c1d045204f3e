#include "worker/proxy/shadowsocks/salt_filter.h"

#include <algorithm>

namespace xsup::worker::proxy::shadowsocks {

SaltFilter::Fingerprint SaltFilter::fingerprint(std::span<const std::uint8_t> salt) {
  Fingerprint f{};
  std::memcpy(f.data(), salt.data(), std::min(salt.size(), f.size()));
  return f;
}

bool SaltFilter::contains(std::span<const std::uint8_t> salt) const {
  const Fingerprint f = fingerprint(salt);
  return current_.contains(f) || previous_.contains(f);
}

bool SaltFilter::insert(std::span<const std::uint8_t> salt) {
  const Fingerprint f = fingerprint(salt);
  if (lifetime_.count() > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now - generation_start_ >= lifetime_) {
      // Two lifetimes without a salt: the previous generation is too old to keep either.
      previous_ =
          now - generation_start_ >= 2 * lifetime_ ? decltype(current_){} : std::move(current_);
      current_ = {};
      generation_start_ = now;
    }
  }
  if (previous_.contains(f)) return false;
  if (!current_.insert(f).second) return false;
  if (current_.size() >= generation_size_) {
    previous_ = std::move(current_);
    current_ = {};
    generation_start_ = std::chrono::steady_clock::now();
  }
  return true;
}

}  // namespace xsup::worker::proxy::shadowsocks
