#pragma once
// The HTTP proxy outbound: opens a tunnel with CONNECT through the first configured
// server (RFC 9110 §9.3.6), authenticating with Basic credentials of its first user.

#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::http {

class HttpOutbound final : public Outbound {
 public:
  explicit HttpOutbound(const config::OutboundConfig& config) : Outbound(config) {}

  awaitable<Expected<core::StreamPtr>> connect(core::Session& session) override;
};

}  // namespace xsup::worker::proxy::http
