#pragma once
// The store's users inside a worker (DESIGN.md §4): the set the supervisor pushed, indexed
// by inbound tag and credential for O(1) lookup. It adds to each inbound's config
// `clients`/`accounts`; a push replaces it whole and closes the live connections of every
// store user who lost access to their inbound.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/config/model.h"
#include "shared/users/user_set.h"
#include "worker/core/session.h"
#include "worker/core/traffic.h"

namespace xsup::worker::proxy {

class UserDirectory {
 public:
  // Replaces the set; returns how many live connections were closed.
  std::size_t replace(users::UserSet set);

  // A user of inbound `tag` by email (the SOCKS/HTTP user name), uuid or password;
  // null when none. Pointers stay valid until the next replace: copy before awaiting.
  const users::UserEntry* by_email(std::string_view tag, std::string_view email) const;
  const users::UserEntry* by_uuid(std::string_view tag, std::string_view uuid) const;
  const users::UserEntry* by_password(std::string_view tag, std::string_view password) const;
  bool has_users(std::string_view tag) const;

  std::uint64_t version() const { return set_.version; }
  // The whole set, for inbounds that precompute per-user keys (VMess AuthIDs).
  const users::UserSet& set() const { return set_; }
  std::size_t size() const { return set_.users.size(); }

 private:
  using Index = std::unordered_map<std::string, std::size_t>;  // tag '\n' key -> user
  static std::string key(std::string_view tag, std::string_view value);
  const users::UserEntry* find(const Index& index, std::string_view tag,
                               std::string_view value) const;

  users::UserSet set_;
  Index by_email_;
  Index by_uuid_;
  Index by_password_;
  std::unordered_map<std::string, std::size_t> per_tag_;
};

// The worker's directory (one event loop per worker).
UserDirectory& user_directory();

// A SOCKS or HTTP user who presented a valid name and password.
struct AuthenticatedUser {
  std::string email;
  std::uint32_t level = 0;
  bool from_store = false;
};

// Checks a name/password pair against the inbound's config accounts, then the store's users
// of that inbound; secrets are compared in constant time.
std::optional<AuthenticatedUser> check_account(std::string_view inbound_tag,
                                               const std::vector<config::Account>& accounts,
                                               std::string_view user, std::string_view pass);

// Enrolls the connection of `session`'s store user in core::user_connections(), so that
// `close` ends it when the user loses access; nullopt when the user's IP limit refuses the
// client's address (logged with the session's id).
std::optional<core::UserConnections::Enrollment> enroll_store_user(const core::Session& session,
                                                                   std::function<void()> close);

// Compares secrets in time independent of where they differ.
bool same_secret(std::string_view a, std::string_view b);

}  // namespace xsup::worker::proxy
