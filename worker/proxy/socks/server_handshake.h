#pragma once
// The server side of a SOCKS handshake on one stream, without the dispatcher: it reads the
// client's messages through a HandshakeReader (so pipelined messages are parsed from what
// is already buffered), writes the server's answers, and says what comes next. The inbound
// runs it under the policy's handshake deadline.

#include <asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "shared/base/error.h"
#include "shared/config/model.h"
#include "shared/net/destination.h"
#include "worker/core/stream.h"
#include "worker/proxy/socks/handshake_reader.h"
#include "worker/proxy/user_directory.h"

namespace xsup::worker::proxy::socks {

struct HandshakeResult {
  enum class Next {
    kConnect,       // success already answered; relay to `target`
    kUdpAssociate,  // relay address already answered; hold the connection
    kNotSocks,      // first byte neither 4 nor 5: the HTTP inbound's
  };
  Next next = Next::kConnect;
  net::Destination target;                // kConnect
  std::optional<AuthenticatedUser> user;  // the authenticated user, if any
};

// `local` is the address the client reached; `inbound_tag` finds the store's users of
// the inbound beside the config's accounts (the SOCKS5 reply's BND.ADDR/BND.PORT). On
// failure the connection is over: the error's reason says why, and where the protocol has an
// answer for it (REP 0x07, SOCKS4 0x5B, method 0xFF, auth status 1) it has been sent.
asio::awaitable<base::Expected<HandshakeResult>> accept_handshake(
    core::Stream& stream, HandshakeReader& reader, const config::SocksInbound& settings,
    const net::Destination& local, std::string_view inbound_tag = {});

}  // namespace xsup::worker::proxy::socks
