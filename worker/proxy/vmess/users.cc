#include "worker/proxy/vmess/users.h"

#include <cstring>

#include "worker/proxy/vmess/header.h"

namespace xsup::worker::proxy::vmess {

std::size_t UserTable::Hash::operator()(const Bytes16& b) const {
  std::uint64_t a = 0;
  std::uint64_t c = 0;
  std::memcpy(&a, b.data(), 8);
  std::memcpy(&c, b.data() + 8, 8);
  return static_cast<std::size_t>(a ^ (c * 0x9E3779B97F4A7C15ULL));
}

UserTable::UserTable(const std::vector<UserEntry>& entries) {
  users_.reserve(entries.size());
  for (const auto& e : entries) {
    if (by_id_.contains(e.id)) continue;  // the first entry of a UUID wins
    const Bytes16 key = cmd_key(e.id);
    auto user = std::make_unique<User>(User{e, key, AesBlock(auth_id_key(key))});
    by_id_.emplace(e.id, user.get());
    users_.push_back(std::move(user));
  }
}

std::optional<UserTable::Match> UserTable::match_auth_id(const Bytes16& auth_id) const {
  for (const auto& user : users_) {
    if (auto time = open_auth_id(user->auth_id_key, auth_id)) return Match{user.get(), *time};
  }
  return std::nullopt;
}

const User* UserTable::find(const Bytes16& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

}  // namespace xsup::worker::proxy::vmess
