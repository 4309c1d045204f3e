#pragma once
// dokodemo-door ("tunnel"): forwards everything that arrives to a fixed target, or, with
// followRedirect, to the original destination of an iptables REDIRECT.

#include <memory>

#include "worker/proxy/inbound.h"

namespace xsup::worker::proxy::dokodemo {

std::unique_ptr<Inbound> make_inbound(const InboundContext& context);

}  // namespace xsup::worker::proxy::dokodemo
