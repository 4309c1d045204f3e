#include "worker/proxy/vless/users.h"

#include <algorithm>
#include <cstring>

#include "shared/crypto/uuid.h"

namespace xsup::worker::proxy::vless {
namespace {

Uuid lookup_key(const Uuid& id) {
  Uuid key = id;
  key[6] = 0;
  key[7] = 0;
  return key;
}

}  // namespace

std::size_t UserTable::KeyHash::operator()(const Uuid& key) const {
  // Ids are random: two words of them are as good a hash as any.
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, key.data(), 8);
  std::memcpy(&b, key.data() + 8, 8);
  return static_cast<std::size_t>(a ^ (b * 0x9E3779B97F4A7C15ULL));
}

UserTable::UserTable(const std::vector<config::VlessUser>& users, const users::UserSet* store,
                     std::string_view tag) {
  users_.reserve(users.size());
  for (const auto& u : users) {
    users_.try_emplace(lookup_key(u.id), User{u.id, u.email, u.level, u.flow, false});
  }
  if (store == nullptr) return;
  for (const auto& u : store->users) {
    if (u.uuid.empty() ||
        std::find(u.inbounds.begin(), u.inbounds.end(), tag) == u.inbounds.end()) {
      continue;
    }
    auto id = crypto::parse_uuid(u.uuid);
    if (!id) continue;
    users_.try_emplace(lookup_key(*id), User{*id, u.email, u.level, u.flow, true});
  }
}

const User* UserTable::find(const Uuid& id) const {
  auto it = users_.find(lookup_key(id));
  return it == users_.end() ? nullptr : &it->second;
}

}  // namespace xsup::worker::proxy::vless
