#pragma once
// The Shadowsocks inbound (Xray's proxy/shadowsocks server, AEAD methods).
//
// TCP: the first bytes are matched against the users (UserTable: trial of each key on the
// first length block) under the policy's handshake deadline; the salt must be new to the
// replay filter; then the stream is an AeadStream and its first plaintext bytes name the
// target. A client that fails is not told: its connection is read on and dropped after a
// random time (probing resistance), as Xray and shadowsocks-libev do.
// UDP: each datagram is opened with the users' keys in turn; datagrams of one user form
// sessions per client address (dispatch::UdpSessions) whose replies are sealed back with
// that user's key.

#include <asio/ip/udp.hpp>
#include <limits>
#include <memory>

#include "worker/proxy/inbound.h"
#include "worker/proxy/shadowsocks/salt_filter.h"
#include "worker/proxy/shadowsocks/users.h"

namespace xsup::worker::proxy::shadowsocks {

class ShadowsocksInbound final : public Inbound {
 public:
  explicit ShadowsocksInbound(const InboundContext& context);

  awaitable<void> serve(core::StreamPtr stream, core::Session session) override;
  bool wants_udp() const override;
  awaitable<void> serve_udp(asio::ip::udp::socket& socket) override;

  // The table of the config's users and the store's users of this inbound, rebuilt when
  // the supervisor has pushed a new user set since the last look. Connections already
  // authenticated keep their user; UDP sessions of an older table end.
  const UserTablePtr& current_users();

 private:
  // Reads and drops what the client sends for a random time, then closes (A.3: a prober
  // learns nothing from when the connection ends).
  awaitable<void> reject(core::Stream& stream, const core::Session& session,
                         std::string_view reason);

  // Shadowsocks 2022 (spec/shadowsocks.md B.2, B.4).
  awaitable<void> serve_2022(core::StreamPtr stream, core::Session session, UserTablePtr users);
  awaitable<void> serve_udp_2022(asio::ip::udp::socket& socket);

  InboundContext context_;
  const config::ShadowsocksInbound& settings_;
  UserTablePtr users_;
  std::shared_ptr<SaltFilter> salts_;
  std::shared_ptr<SaltFilter> salts_2022_;
  std::uint64_t users_generation_ = 0;
  // The pushed set users_ was built with; none yet, so the first look rebuilds.
  std::uint64_t store_version_ = std::numeric_limits<std::uint64_t>::max();
};

}  // namespace xsup::worker::proxy::shadowsocks
