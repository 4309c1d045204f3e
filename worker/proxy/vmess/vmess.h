#pragma once
// VMess with the AEAD header (alterId 0; spec/vmess.md) as an inbound (a server of VMess
// clients, TCP and UDP commands) and as an outbound (a client of a VMess server).

#include <memory>

#include "shared/config/model.h"
#include "worker/proxy/inbound.h"
#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::vmess {

// context.config.settings holds a config::VmessInbound.
std::unique_ptr<Inbound> make_vmess_inbound(const InboundContext& context);
// config.settings holds a config::VmessOutbound.
std::unique_ptr<Outbound> make_vmess_outbound(const config::OutboundConfig& config);

}  // namespace xsup::worker::proxy::vmess
