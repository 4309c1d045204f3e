#pragma once
// The VLESS outbound (spec/vless.md; Xray's proxy/vless/outbound): dials the first vnext
// server as its first user. The request header goes out in front of the first bytes
// written (the dispatcher writes the client's first bytes at once, so usually in one
// segment); the response header is taken off the front of the downlink. UDP uses command
// 0x02 with length-framed datagrams, all to the session's target.

#include "shared/config/model.h"
#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::vless {

class VlessOutbound final : public Outbound {
 public:
  explicit VlessOutbound(const config::OutboundConfig& config);

  awaitable<Expected<core::StreamPtr>> connect(core::Session& session) override;
  awaitable<Expected<core::PacketStreamPtr>> open_packets(core::Session& session) override;

 private:
  awaitable<Expected<core::StreamPtr>> open(core::Session& session, bool udp);

  const config::VlessOutbound& settings_;
};

}  // namespace xsup::worker::proxy::vless
