#pragma once
// The users of one Trojan inbound, looked up in O(1) by the 56-byte hex key a client sends
// (spec/trojan.md §1; the comparison is exact, so uppercase hex matches nobody). Immutable
// once built: the inbound holds it behind a shared pointer it can swap at run time.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shared/config/model.h"
#include "shared/users/user_set.h"

namespace xsup::worker::proxy::trojan {

struct User {
  std::string email;
  std::uint32_t level = 0;
  bool from_store = false;  // pushed by the supervisor's store (may lose access live)
};

class UserTable {
 public:
  // The config's clients, then the store's users of inbound `tag` (when `store` is given).
  // A later entry with the same password as an earlier one is ignored.
  explicit UserTable(const std::vector<config::TrojanUser>& users,
                     const users::UserSet* store = nullptr, std::string_view tag = {});

  const User* find(std::string_view key) const;
  std::size_t size() const { return users_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const;
  };
  std::unordered_map<std::string, User, Hash, std::equal_to<>> users_;
};

using UserTablePtr = std::shared_ptr<const UserTable>;

}  // namespace xsup::worker::proxy::trojan
