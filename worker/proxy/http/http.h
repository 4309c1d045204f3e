#pragma once
// The HTTP proxy protocol (seeds/socks-http.md): the inbound serves CONNECT tunnels and
// plain HTTP/1.x requests, with Basic proxy authentication; the outbound tunnels through
// an upstream proxy with CONNECT. UDP is not part of the protocol.

#include <asio/awaitable.hpp>
#include <memory>

#include "shared/config/model.h"
#include "worker/core/prefetch.h"
#include "worker/core/session.h"
#include "worker/core/stream.h"
#include "worker/proxy/inbound.h"
#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::http {

// Serves one client connection as an HTTP proxy until it ends. `first` holds bytes already
// read from the client (the SOCKS inbound passes what it sniffed; it may be empty). The
// settings come from ctx.config: an HTTP inbound's own, or for a SOCKS inbound its
// accounts (when auth is "password") and userLevel, without allowTransparent, as Xray's
// SOCKS server hands non-SOCKS connections to an embedded HTTP server. Never throws.
awaitable<void> serve_as_http(const InboundContext& ctx, core::StreamPtr stream,
                              core::Session session, core::Prefetch first);

std::unique_ptr<Inbound> make_http_inbound(const InboundContext& context);
std::unique_ptr<Outbound> make_http_outbound(const config::OutboundConfig& config);

}  // namespace xsup::worker::proxy::http
