#pragma once
// The users of one VMess inbound, with what each needs precomputed: cmdKey and the AES key
// that opens AuthIDs (spec/vmess.md §1, §2). Built from a plain list so that it can be
// rebuilt when users change at runtime; the inbound holds it behind a shared pointer that
// is swapped whole, and a connection keeps the table it started with.
//
// Lookup cost: an AuthID is encrypted under a per-user key, so nothing indexes it; finding
// its user takes one AES-128 block decryption and a CRC-32 of 12 bytes per user, in order,
// stopping at the first match (as Xray's AuthIDDecoderHolder). With AES-NI one try costs
// well under 100 ns, so 10 000 users add about a millisecond to a connection's handshake
// in the worst case (unknown AuthID). Lookup by UUID is O(1).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "worker/proxy/vmess/primitives.h"

namespace xsup::worker::proxy::vmess {

struct UserEntry {
  std::string email;
  Bytes16 id{};  // the UUID
  std::uint32_t level = 0;
  bool from_store = false;  // a store user (may lose access live), not a config client
};

struct User {
  UserEntry entry;
  Bytes16 cmd_key{};
  AesBlock auth_id_key;
};

class UserTable {
 public:
  explicit UserTable(const std::vector<UserEntry>& entries);

  struct Match {
    const User* user = nullptr;
    std::int64_t time = 0;  // the AuthID's timestamp
  };
  // The user whose key opens this AuthID with a matching CRC (O(users), see above).
  std::optional<Match> match_auth_id(const Bytes16& auth_id) const;
  const User* find(const Bytes16& id) const;
  std::size_t size() const { return users_.size(); }

 private:
  struct Hash {
    std::size_t operator()(const Bytes16& b) const;
  };
  std::vector<std::unique_ptr<User>> users_;
  std::unordered_map<Bytes16, const User*, Hash> by_id_;
};

using UserTablePtr = std::shared_ptr<const UserTable>;

}  // namespace xsup::worker::proxy::vmess
