#pragma once
// The users of one VLESS inbound, looked up by id in O(1). Bytes 6 and 7 of the id are
// zeroed on both sides before the lookup, as current Xray does (spec/vless.md §2: a client
// may carry a route number there). Immutable once built: the inbound holds it behind a
// shared pointer it can swap when the user set changes at run time.

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "shared/config/model.h"
#include "shared/users/user_set.h"
#include "worker/proxy/vless/codec.h"

namespace xsup::worker::proxy::vless {

struct User {
  Uuid id{};
  std::string email;
  std::uint32_t level = 0;
  std::string flow;
  bool from_store = false;  // pushed by the supervisor's store (may lose access live)
};

class UserTable {
 public:
  // The config's clients, then the store's users of inbound `tag` (when `store` is given).
  // A later entry whose id equals an earlier one (bytes 6-7 aside) is ignored.
  explicit UserTable(const std::vector<config::VlessUser>& users,
                     const users::UserSet* store = nullptr, std::string_view tag = {});

  const User* find(const Uuid& id) const;
  std::size_t size() const { return users_.size(); }

 private:
  struct KeyHash {
    std::size_t operator()(const Uuid& key) const;
  };
  std::unordered_map<Uuid, User, KeyHash> users_;
};

using UserTablePtr = std::shared_ptr<const UserTable>;

}  // namespace xsup::worker::proxy::vless
