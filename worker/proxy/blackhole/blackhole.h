#pragma once
// blackhole ("block"): drops the connection, optionally answering HTTP 403 first.

#include <memory>

#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::blackhole {

std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config);

}  // namespace xsup::worker::proxy::blackhole
