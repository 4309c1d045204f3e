#pragma once
// The SOCKS protocol (SOCKS4/4a/5 with RFC 1929 authentication, UDP ASSOCIATE) as an
// inbound (a local proxy server that also hands HTTP proxy clients to the HTTP inbound)
// and as an outbound (a client of an upstream SOCKS5 server).

#include <memory>

#include "shared/config/model.h"
#include "worker/proxy/inbound.h"
#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::socks {

// context.config.settings holds a config::SocksInbound.
std::unique_ptr<Inbound> make_socks_inbound(const InboundContext& context);
// config.settings holds a config::SocksOutbound.
std::unique_ptr<Outbound> make_socks_outbound(const config::OutboundConfig& config);

}  // namespace xsup::worker::proxy::socks
