#pragma once
// The VLESS inbound (spec/vless.md; Xray's proxy/vless/inbound). One coroutine per
// connection reads the request header into one pooled buffer under the policy's handshake
// deadline, checks the user, and then:
//   - TCP: answers the response header and gives the stream to the dispatcher;
//   - UDP: carries length-framed datagrams against a packet stream from the dispatcher;
//   - Mux and reverse: refused (not supported yet), with a log line.
// A wrong version or an unknown user goes to the fallbacks when there are some (with every
// byte read so far), and is otherwise closed without a reply (spec/vless.md §8, §9).

#include <limits>
#include <memory>

#include "shared/config/model.h"
#include "worker/proxy/fallback/table.h"
#include "worker/proxy/inbound.h"
#include "worker/proxy/mux/server.h"
#include "worker/proxy/vless/codec.h"
#include "worker/proxy/vless/users.h"

namespace xsup::worker::proxy::vless {

class VlessInbound final : public Inbound {
 public:
  explicit VlessInbound(const InboundContext& context);
  ~VlessInbound() override;

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
  const config::VlessInbound& settings_;
  UserTablePtr users_;
  // The pushed set users_ was built with; none yet, so the first connection looks.
  std::uint64_t store_version_ = std::numeric_limits<std::uint64_t>::max();
  std::unique_ptr<fallback::FallbackTable> fallbacks_;  // null without fallbacks
  mux::XudpTable xudp_;  // XUDP sessions parked between Mux.Cool connections
};

}  // namespace xsup::worker::proxy::vless
