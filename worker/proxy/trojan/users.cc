#include "worker/proxy/trojan/users.h"

#include <algorithm>
#include <cstring>

#include "worker/proxy/trojan/codec.h"

namespace xsup::worker::proxy::trojan {

std::size_t UserTable::Hash::operator()(std::string_view key) const {
  return std::hash<std::string_view>{}(key);
}

UserTable::UserTable(const std::vector<config::TrojanUser>& users, const users::UserSet* store,
                     std::string_view tag) {
  users_.reserve(users.size());
  for (const auto& u : users) {
    const Key key = password_key(u.password);
    users_.try_emplace(std::string(key.data(), key.size()), User{u.email, u.level, false});
  }
  if (store == nullptr) return;
  for (const auto& u : store->users) {
    if (u.password.empty() ||
        std::find(u.inbounds.begin(), u.inbounds.end(), tag) == u.inbounds.end()) {
      continue;
    }
    const Key key = password_key(u.password);
    users_.try_emplace(std::string(key.data(), key.size()), User{u.email, u.level, true});
  }
}

const User* UserTable::find(std::string_view key) const {
  auto it = users_.find(key);
  return it == users_.end() ? nullptr : &it->second;
}

}  // namespace xsup::worker::proxy::trojan
