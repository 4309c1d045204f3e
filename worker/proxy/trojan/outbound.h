#pragma once
// The Trojan outbound (spec/trojan.md; Xray's proxy/trojan/client): dials the first server
// and sends the request in front of the first bytes written. CONNECT then carries raw
// bytes (splice-capable once the request is out); UDP ASSOCIATE carries address-framed
// datagrams, each to its own destination.

#include "shared/config/model.h"
#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::trojan {

class TrojanOutbound final : public Outbound {
 public:
  explicit TrojanOutbound(const config::OutboundConfig& config);

  awaitable<Expected<core::StreamPtr>> connect(core::Session& session) override;
  awaitable<Expected<core::PacketStreamPtr>> open_packets(core::Session& session) override;

 private:
  awaitable<Expected<core::StreamPtr>> open(core::Session& session, bool udp);

  const config::TrojanOutbound& settings_;
};

}  // namespace xsup::worker::proxy::trojan
