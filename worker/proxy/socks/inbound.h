#pragma once
// The SOCKS inbound (Xray's proxy/socks server): SOCKS4, SOCKS4a and SOCKS5 on one TCP
// port, HTTP proxy requests handed to the HTTP inbound, and the SOCKS5 UDP relay on the
// UDP socket of the same port.
//
// TCP: one coroutine per connection decodes the handshake from one pooled buffer under the
// policy's handshake deadline, then gives the stream and the bytes read past the header to
// the dispatcher. A UDP ASSOCIATE connection is held open until the client closes it; its
// end ends that client's UDP sessions.
// UDP: a UdpRelay on the inbound's UDP socket, with packet streams from the dispatcher.

#include <asio/ip/udp.hpp>
#include <memory>

#include "shared/config/model.h"
#include "worker/core/session.h"
#include "worker/proxy/inbound.h"
#include "worker/proxy/socks/udp_relay.h"

namespace xsup::worker::proxy::socks {

class SocksInbound final : public Inbound {
 public:
  explicit SocksInbound(const InboundContext& context);
  ~SocksInbound() override;

  awaitable<void> serve(core::StreamPtr stream, core::Session session) override;
  bool wants_udp() const override { return udp_ != nullptr; }
  awaitable<void> serve_udp(asio::ip::udp::socket& socket) override;

 private:
  // Holds a UDP ASSOCIATE connection open until the client closes it.
  awaitable<void> hold_association(core::Stream& stream, const core::Session& session);

  InboundContext context_;
  const config::SocksInbound& settings_;
  std::unique_ptr<UdpRelay> udp_;  // only when settings.udp
};

}  // namespace xsup::worker::proxy::socks
