#pragma once
// Serving a connection that is not the inbound's protocol (spec/vless.md §9, spec/trojan.md
// §4): connect to the chosen fallback's dest, send the PROXY header its xver asks for and
// the client's bytes read so far, unchanged, then relay both ways. VLESS and Trojan decide
// *when* to fall back; this decides *where* and does it.

#include <asio/awaitable.hpp>
#include <cstdint>
#include <span>
#include <string_view>

#include "worker/core/session.h"
#include "worker/core/stream.h"
#include "worker/proxy/fallback/table.h"

namespace xsup::worker::proxy::fallback {

using asio::awaitable;

// Relays `client` to the fallback chosen for it until the connection ends. `first` holds
// every byte read from the client so far. `protocol` names the inbound in log lines.
// Closes the client when no entry matches or the dest cannot be reached.
awaitable<void> serve(const FallbackTable& table, core::Stream& client, core::Session& session,
                      std::span<const std::uint8_t> first, std::string_view protocol);

}  // namespace xsup::worker::proxy::fallback
