#include "worker/proxy/user_directory.h"

#include "shared/base/log.h"
#include "worker/core/traffic.h"

namespace xsup::worker::proxy {

std::string UserDirectory::key(std::string_view tag, std::string_view value) {
  std::string k;
  k.reserve(tag.size() + 1 + value.size());
  k.append(tag);
  k.push_back('\n');
  k.append(value);
  return k;
}

std::size_t UserDirectory::replace(users::UserSet set) {
  set_ = std::move(set);
  by_email_.clear();
  by_uuid_.clear();
  by_password_.clear();
  per_tag_.clear();
  by_email_.reserve(set_.users.size());
  for (std::size_t i = 0; i < set_.users.size(); ++i) {
    const auto& u = set_.users[i];
    for (const auto& tag : u.inbounds) {
      by_email_.emplace(key(tag, u.email), i);
      if (!u.uuid.empty()) by_uuid_.emplace(key(tag, u.uuid), i);
      if (!u.password.empty()) by_password_.emplace(key(tag, u.password), i);
      ++per_tag_[tag];
    }
  }
  return core::user_connections().close_if([this](const std::string& user, const std::string& tag) {
    return by_email(tag, user) == nullptr;
  });
}

const users::UserEntry* UserDirectory::find(const Index& index, std::string_view tag,
                                            std::string_view value) const {
  if (index.empty()) return nullptr;
  auto it = index.find(key(tag, value));
  return it == index.end() ? nullptr : &set_.users[it->second];
}

const users::UserEntry* UserDirectory::by_email(std::string_view tag,
                                                std::string_view email) const {
  return find(by_email_, tag, email);
}

const users::UserEntry* UserDirectory::by_uuid(std::string_view tag, std::string_view uuid) const {
  return find(by_uuid_, tag, uuid);
}

const users::UserEntry* UserDirectory::by_password(std::string_view tag,
                                                   std::string_view password) const {
  return find(by_password_, tag, password);
}

bool UserDirectory::has_users(std::string_view tag) const {
  return per_tag_.find(std::string(tag)) != per_tag_.end();
}

std::optional<core::UserConnections::Enrollment> enroll_store_user(const core::Session& session,
                                                                   std::function<void()> close) {
  const users::UserEntry* user = user_directory().by_email(session.inbound_tag, session.user);
  const std::uint32_t limit = user != nullptr ? user->ip_limit : 0;
  std::string ip;
  if (limit != 0 && session.source.address.is_ip()) ip = session.source.address.ip().to_string();
  auto& registry = core::user_connections();
  if (!ip.empty() && !registry.admits(session.user, ip, limit)) {
    log::info(session.id, "user {}: refused {}: IP limit of {} reached", session.user, ip, limit);
    return std::nullopt;
  }
  return registry.enroll(session.user, session.inbound_tag, std::move(ip), std::move(close));
}

UserDirectory& user_directory() {
  static UserDirectory directory;
  return directory;
}

bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
  }
  return diff == 0;
}

std::optional<AuthenticatedUser> check_account(std::string_view inbound_tag,
                                               const std::vector<config::Account>& accounts,
                                               std::string_view user, std::string_view pass) {
  for (const auto& account : accounts) {
    if (account.user == user && same_secret(account.pass, pass)) {
      return AuthenticatedUser{account.email.empty() ? account.user : account.email, account.level,
                               false};
    }
  }
  if (const auto* entry = user_directory().by_email(inbound_tag, user)) {
    if (same_secret(entry->password, pass)) {
      return AuthenticatedUser{entry->email, entry->level, true};
    }
  }
  return std::nullopt;
}

}  // namespace xsup::worker::proxy
