#pragma once
// Trojan (spec/trojan.md): the inbound and outbound makers for the registry.

#include <memory>

#include "worker/proxy/inbound.h"
#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::trojan {

std::unique_ptr<Inbound> make_inbound(const InboundContext& context);
std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config);

}  // namespace xsup::worker::proxy::trojan
