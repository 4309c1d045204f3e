#pragma once
// The one way a proxy outbound reaches its server: dial TCP with the outbound's sockopt
// and sendThrough, then apply its streamSettings security (TLS today).

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>

#include "shared/base/error.h"
#include "shared/config/model.h"
#include "shared/net/destination.h"
#include "worker/core/session.h"
#include "worker/core/stream.h"

namespace xsup::worker::transport {

// A stream to `server` ready for the protocol's first bytes. The TLS handshake is bounded
// by `handshake` (16 s when 0); failures are logged with connection id `conn`.
asio::awaitable<base::Expected<core::StreamPtr>> dial_stream(const config::OutboundConfig& outbound,
                                                             const net::Destination& server,
                                                             std::uint64_t conn,
                                                             std::chrono::seconds handshake);

// The same for one session: its id and its level's handshake time.
inline asio::awaitable<base::Expected<core::StreamPtr>> dial_stream(
    const config::OutboundConfig& outbound, const net::Destination& server,
    const core::Session& session) {
  return dial_stream(outbound, server, session.id, session.policy.handshake);
}

}  // namespace xsup::worker::transport
