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
  if (previous_.contains(f)) return false;
  if (!current_.insert(f).second) return false;
  if (current_.size() >= generation_size_) {
    previous_ = std::move(current_);
    current_ = {};
  }
  return true;
}

}  // namespace xsup::worker::proxy::shadowsocks
