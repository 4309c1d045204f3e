#pragma once
// The Shadowsocks outbound (Xray's proxy/shadowsocks client, AEAD methods): TCP through an
// AeadStream whose first chunk names the target; UDP as one sealed datagram per packet to
// the server's UDP port (A.4).

#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::shadowsocks {

class ShadowsocksOutbound final : public Outbound {
 public:
  explicit ShadowsocksOutbound(const config::OutboundConfig& config);

  awaitable<Expected<core::StreamPtr>> connect(core::Session& session) override;
  awaitable<Expected<core::PacketStreamPtr>> open_packets(core::Session& session) override;

 private:
  awaitable<Expected<core::StreamPtr>> connect_2022(core::Session& session);

  const config::ShadowsocksOutbound& settings_;
};

}  // namespace xsup::worker::proxy::shadowsocks
