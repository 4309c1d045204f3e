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

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "worker/proxy/shadowsocks/cipher.h"

namespace xsup::worker::proxy::shadowsocks {

struct UserEntry {
  std::string email;
  std::string password;  // the credential
  Method method = Method::kAes128Gcm;
  std::uint32_t level = 0;
};

struct User {
  std::string email;
  std::uint32_t level = 0;
  Method method = Method::kAes128Gcm;
  Key key{};  // password_key(password)

  std::span<const std::uint8_t> master_key() const { return {key.data(), info(method).key_size}; }
};

class UserTable {
 public:
  explicit UserTable(const std::vector<UserEntry>& entries);

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
};

using UserTablePtr = std::shared_ptr<const UserTable>;

}  // namespace xsup::worker::proxy::shadowsocks
