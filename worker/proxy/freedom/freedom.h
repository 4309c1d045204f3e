#pragma once
// freedom ("direct"): connects to the target itself; UDP through one socket per session.

#include <memory>

#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::freedom {

std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config);

}  // namespace xsup::worker::proxy::freedom
