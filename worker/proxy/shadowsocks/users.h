#pragma once
// The users of a Shadowsocks inbound: each with its own method and password (Xray's
// `clients`; a single `password` + `method` is a table of one anonymous user).
//
// Shadowsocks AEAD carries no user id, so a connection is matched by trial (A.3): the
// first length block is opened with each user's key in turn; the first that opens picks
// the user. That costs one HKDF-SHA1 (three HMACs) and one 2-byte AEAD open per user tried,
// about 1-2 us each: a thousand users add a millisecond to every connection's first read,
// and a UDP datagram costs one whole-packet open per user tried. The table is immutable and
// shared through a pointer, so the inbound can swap in a rebuilt one at run time.
//
// Shadowsocks 2022 users (spec/shadowsocks.md B.5) are named by BLAKE3(uPSK)[0:16] in the
// identity header: those are found in O(1) through a hash table.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "worker/proxy/shadowsocks/cipher.h"

namespace xsup::worker::proxy::shadowsocks {

struct UserEntry {
  std::string email;
  std::string password;  // the credential (AEAD-2017)
  std::string psk;       // the credential (2022): raw key bytes
  Method method = Method::kAes128Gcm;
  std::uint32_t level = 0;
  bool from_store = false;  // pushed by the supervisor's store (may lose access live)
};

struct User {
  std::string email;
  std::uint32_t level = 0;
  bool from_store = false;
  Method method = Method::kAes128Gcm;
  Key key{};                                // password_key(password), or the 2022 PSK
  std::array<std::uint8_t, 16> psk_hash{};  // 2022: BLAKE3(psk)[0:16]

  std::span<const std::uint8_t> master_key() const { return {key.data(), info(method).key_size}; }
};

class UserTable {
 public:
  // `identity_psk` (raw bytes) makes a 2022 multi-user table (EIH, AES methods).
  explicit UserTable(const std::vector<UserEntry>& entries, const std::string& identity_psk = {});

  // All users are 2022 users (the config never mixes the two).
  bool is_2022() const { return !users_.empty() && shadowsocks::is_2022(users_.front().method); }
  Method method() const { return users_.empty() ? Method::kAes128Gcm : users_.front().method; }
  // 2022 multi-user: the iPSK, key-sized.
  const std::optional<Key>& identity_psk() const { return identity_psk_; }
  // 2022 multi-user: the user named by an identity header, or -1 (O(1)).
  int find_by_psk_hash(std::span<const std::uint8_t, 16> hash) const;

  const std::vector<User>& users() const { return users_; }
  bool empty() const { return users_.empty(); }
  // The most bytes any user needs to be tried: its salt and one length block.
  std::size_t max_probe_size() const { return max_probe_size_; }

  // The index of the user whose key opens the stream starting with `first`, trying only
  // users not marked in `tried` whose probe fits in `first` (they get marked). -1 when none
  // of those opens.
  int match_stream(std::span<const std::uint8_t> first, std::vector<bool>& tried) const;
  // The index of the user whose key opens `packet` (plaintext into `out`), or -1.
  int match_packet(std::span<const std::uint8_t> packet, std::span<std::uint8_t> out,
                   std::span<std::uint8_t>* plaintext) const;

 private:
  std::vector<User> users_;
  std::size_t max_probe_size_ = 0;
  std::optional<Key> identity_psk_;
  std::unordered_map<std::string, int> by_psk_hash_;
};

using UserTablePtr = std::shared_ptr<const UserTable>;

}  // namespace xsup::worker::proxy::shadowsocks
