#include "worker/proxy/shadowsocks/users.h"

#include <algorithm>
#include <cstring>

#include "worker/proxy/shadowsocks/codec.h"
#include "worker/proxy/shadowsocks/codec2022.h"

namespace xsup::worker::proxy::shadowsocks {

UserTable::UserTable(const std::vector<UserEntry>& entries, const std::string& identity_psk) {
  users_.reserve(entries.size());
  if (!identity_psk.empty()) {
    Key k{};
    std::memcpy(k.data(), identity_psk.data(), std::min(identity_psk.size(), k.size()));
    identity_psk_ = k;
  }
  for (const auto& entry : entries) {
    User user;
    user.email = entry.email;
    user.level = entry.level;
    user.from_store = entry.from_store;
    user.method = entry.method;
    if (shadowsocks::is_2022(entry.method)) {
      std::memcpy(user.key.data(), entry.psk.data(), std::min(entry.psk.size(), user.key.size()));
      user.psk_hash = psk_hash(user.master_key());
      by_psk_hash_.emplace(
          std::string(reinterpret_cast<const char*>(user.psk_hash.data()), user.psk_hash.size()),
          static_cast<int>(users_.size()));
    } else {
      user.key = password_key(entry.password, info(entry.method).key_size);
    }
    max_probe_size_ = std::max(max_probe_size_, info(entry.method).salt_size + kLengthBlockSize);
    users_.push_back(std::move(user));
  }
}

int UserTable::find_by_psk_hash(std::span<const std::uint8_t, 16> hash) const {
  auto it = by_psk_hash_.find(std::string(reinterpret_cast<const char*>(hash.data()), hash.size()));
  return it == by_psk_hash_.end() ? -1 : it->second;
}

int UserTable::match_stream(std::span<const std::uint8_t> first, std::vector<bool>& tried) const {
  tried.resize(users_.size(), false);
  for (std::size_t i = 0; i < users_.size(); ++i) {
    if (tried[i]) continue;
    const User& user = users_[i];
    const std::size_t salt_size = info(user.method).salt_size;
    if (first.size() < salt_size + kLengthBlockSize) continue;
    tried[i] = true;
    const Key subkey = session_subkey(user.master_key(), first.first(salt_size));
    const std::span<const std::uint8_t> key(subkey.data(), info(user.method).key_size);
    if (first_chunk_opens(user.method, key, first.subspan(salt_size, kLengthBlockSize))) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

int UserTable::match_packet(std::span<const std::uint8_t> packet, std::span<std::uint8_t> out,
                            std::span<std::uint8_t>* plaintext) const {
  for (std::size_t i = 0; i < users_.size(); ++i) {
    auto opened = open_packet(users_[i].method, users_[i].master_key(), packet, out);
    if (opened) {
      *plaintext = *opened;
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace xsup::worker::proxy::shadowsocks
