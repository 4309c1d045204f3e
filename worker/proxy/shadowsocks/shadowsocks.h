#pragma once
// Shadowsocks AEAD (spec/shadowsocks.md Part A) as an inbound (a server, single- or
// multi-user, TCP and UDP on one port) and as an outbound (a client of one server).

#include <memory>

#include "shared/config/model.h"
#include "worker/proxy/inbound.h"
#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::shadowsocks {

// context.config.settings holds a config::ShadowsocksInbound.
std::unique_ptr<Inbound> make_inbound(const InboundContext& context);
// config.settings holds a config::ShadowsocksOutbound.
std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config);

}  // namespace xsup::worker::proxy::shadowsocks
