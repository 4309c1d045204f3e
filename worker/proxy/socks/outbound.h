#pragma once
// The SOCKS outbound (Xray's proxy/socks client): a SOCKS5 client of the first configured
// server. CONNECT returns the plain TCP stream to the server after the handshake, so the
// relay can splice; UDP goes through UDP ASSOCIATE, with a control TCP connection that lives
// as long as the packet stream.

#include <chrono>

#include "shared/config/model.h"
#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::socks {

class SocksOutbound final : public Outbound {
 public:
  // Bound of the handshake when the session's policy has none (Xray's dial timeout).
  static constexpr std::chrono::seconds kDefaultHandshake{16};

  explicit SocksOutbound(const config::OutboundConfig& config);

  awaitable<Expected<core::StreamPtr>> connect(core::Session& session) override;
  awaitable<Expected<core::PacketStreamPtr>> open_packets(core::Session& session) override;

 private:
  struct Handshake;
  awaitable<Expected<Handshake>> handshake(core::Session& session, std::uint8_t command,
                                           const net::Destination& target);

  const config::SocksOutbound& settings_;
};

}  // namespace xsup::worker::proxy::socks
