#pragma once
// Inbound: one class per protocol. It decodes the protocol header of an accepted
// connection into the Session (within the policy's handshake time) and hands the rest of
// the stream to the dispatcher (DESIGN.md §2, Xray's proxy.Inbound).

#include <asio/awaitable.hpp>
#include <asio/ip/udp.hpp>
#include <memory>

#include "shared/config/model.h"
#include "worker/core/session.h"
#include "worker/core/stream.h"

namespace xsup::worker::dispatch {
class Dispatcher;
}

namespace xsup::worker::proxy {

using asio::awaitable;

struct InboundContext {
  const config::InboundConfig& config;
  const config::PolicyConfig& policy;
  dispatch::Dispatcher& dispatcher;
};

class Inbound {
 public:
  virtual ~Inbound() = default;

  // Serves one accepted TCP connection until it ends. The session arrives with id,
  // inbound tag and protocol, source and local address filled. Never throws; a bad
  // header ends this connection with one log line "<protocol>: rejected: <reason>".
  virtual awaitable<void> serve(core::StreamPtr stream, core::Session session) = 0;

  // Inbounds that carry UDP on their port (SOCKS UDP ASSOCIATE, dokodemo-door udp) take
  // the bound UDP socket here and serve it until it is closed.
  virtual bool wants_udp() const { return false; }
  virtual awaitable<void> serve_udp(asio::ip::udp::socket& /*socket*/) { co_return; }
};

// The inbound for a config entry (an explicit table: worker/proxy/registry.cc).
std::unique_ptr<Inbound> make_inbound(const InboundContext& context);

}  // namespace xsup::worker::proxy
