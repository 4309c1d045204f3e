#pragma once
// The server side of Mux.Cool (spec/mux.md): reads frames from one carrying stream (a
// VLESS command 0x03 body, or any stream whose target is v1.mux.cool), opens a session
// per New frame through the dispatcher (TCP as a SubStream, UDP through open_packets),
// and returns once the carrying stream has ended and every session has finished.

#include <asio/awaitable.hpp>
#include <cstdint>
#include <span>
#include <string_view>

#include "worker/core/session.h"
#include "worker/core/stream.h"

namespace xsup::worker::dispatch {
class Dispatcher;
}

namespace xsup::worker::proxy::mux {

// True for the target that means "this stream carries Mux.Cool" (spec/mux.md §2).
bool is_mux_target(const net::Destination& target);

// `parent` is the carrying connection's session (user, level, inbound); `rest` holds
// bytes already read past the carrying protocol's header. `log_name` prefixes log lines.
asio::awaitable<void> serve(core::Stream& stream, const core::Session& parent,
                            dispatch::Dispatcher& dispatcher, std::span<const std::uint8_t> rest,
                            std::string_view log_name);

}  // namespace xsup::worker::proxy::mux
