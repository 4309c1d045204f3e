#pragma once
// The TLS contexts (OpenSSL SSL_CTX) of one configuration: one server context per inbound
// and one client context per outbound with `security: "tls"`. They are built by prepare()
// before the worker locks down, since loading the system roots opens files; afterwards
// the accept and dial paths only look them up by the inbound's or outbound's JSON path.

#include <openssl/ssl.h>

#include <chrono>
#include <string>
#include <vector>

#include "shared/base/error.h"
#include "shared/config/model.h"
#include "shared/net/destination.h"
#include "worker/core/session.h"
#include "worker/core/stream.h"
#include "worker/core/tcp_stream.h"

namespace xsup::worker::transport::tls {

using base::Expected;

// Builds the contexts of every TLS inbound and outbound of `config`, replacing any built
// before. Throws std::runtime_error naming the JSON path on failure.
void prepare(const config::Config& config);

// The masterKeyLog files prepare() opened: lockdown must keep these descriptors open.
std::vector<int> key_log_fds();

// The server side of a TLS inbound: handshake within `limit`, then the TLS stream. A
// failed handshake is logged with the session's id.
// The SNI name and ALPN protocol go to session.tls_server_name and tls_alpn (fallbacks
// match on them).
core::awaitable<Expected<core::StreamPtr>> accept(std::unique_ptr<core::TcpStream> tcp,
                                                  const config::InboundConfig& inbound,
                                                  std::chrono::steady_clock::duration limit,
                                                  core::Session& session);

// The client side of a TLS outbound dialled to `server`: SNI is serverName, or the
// server's address when it is a domain.
core::awaitable<Expected<core::StreamPtr>> connect(std::unique_ptr<core::TcpStream> tcp,
                                                   const config::OutboundConfig& outbound,
                                                   const net::Address& server,
                                                   std::chrono::steady_clock::duration limit,
                                                   std::uint64_t conn);

}  // namespace xsup::worker::transport::tls
