#pragma once
// The Trojan inbound (spec/trojan.md; Xray's proxy/trojan/server). One coroutine per
// connection reads once into a pooled buffer under the policy's handshake deadline; what is
// not Trojan-shaped, or carries an unknown key, goes to the fallbacks with every byte read
// (spec/trojan.md §4) and is otherwise closed. Then CONNECT gives the stream to the
// dispatcher, and UDP ASSOCIATE carries address-framed datagrams against a packet stream.

#include <limits>
#include <memory>

#include "shared/config/model.h"
#include "worker/proxy/fallback/table.h"
#include "worker/proxy/inbound.h"
#include "worker/proxy/mux/server.h"
#include "worker/proxy/trojan/users.h"

namespace xsup::worker::proxy::trojan {

class TrojanInbound final : public Inbound {
 public:
  explicit TrojanInbound(const InboundContext& context);
  ~TrojanInbound() override;

  awaitable<void> serve(core::StreamPtr stream, core::Session session) override;

  // Replaces the user set; connections already past their header keep their user.
  void set_users(UserTablePtr users) { users_ = std::move(users); }

 private:
  awaitable<void> serve_udp(core::Stream& stream, core::Session& session,
                            std::span<const std::uint8_t> rest);

  // The table of the config's clients and the store's users of this inbound, rebuilt
  // when the supervisor has pushed a new user set since the last connection.
  const UserTablePtr& current_users();

  InboundContext context_;
  const config::TrojanInbound& settings_;
  UserTablePtr users_;
  // The pushed set users_ was built with; none yet, so the first connection looks.
  std::uint64_t store_version_ = std::numeric_limits<std::uint64_t>::max();
  std::unique_ptr<fallback::FallbackTable> fallbacks_;  // null without fallbacks
  mux::XudpTable xudp_;  // XUDP sessions parked between Mux.Cool connections
};

}  // namespace xsup::worker::proxy::trojan
