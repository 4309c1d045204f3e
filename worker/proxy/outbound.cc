#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy {

awaitable<Expected<core::PacketStreamPtr>> Outbound::open_packets(core::Session& /*session*/) {
  co_return base::Error(base::Errc::kUnsupported, "this outbound does not carry UDP");
}

}  // namespace xsup::worker::proxy
