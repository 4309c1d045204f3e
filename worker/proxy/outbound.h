#pragma once
// Outbound: one class per protocol. It opens a stream (or a packet stream) to the
// session's target through its protocol and transport (DESIGN.md §2, Xray's
// proxy.Outbound). The dispatcher relays the client against what it returns, so a plain
// TCP result keeps the splice(2) fast path.

#include <asio/awaitable.hpp>
#include <memory>
#include <string>

#include "shared/base/error.h"
#include "shared/config/model.h"
#include "worker/core/packet_stream.h"
#include "worker/core/session.h"
#include "worker/core/stream.h"

namespace xsup::worker::proxy {

using asio::awaitable;
using base::Expected;

class Outbound {
 public:
  explicit Outbound(const config::OutboundConfig& config) : config_(config) {}
  virtual ~Outbound() = default;

  const std::string& tag() const { return config_.tag; }
  const config::OutboundConfig& config() const { return config_; }

  // Opens a byte stream to session.target (network tcp).
  virtual awaitable<Expected<core::StreamPtr>> connect(core::Session& session) = 0;
  // Opens a packet stream for a UDP session; the default refuses.
  virtual awaitable<Expected<core::PacketStreamPtr>> open_packets(core::Session& session);
  // The worker drains: close what is held open between sessions once it is unused.
  virtual void drain() {}

 protected:
  const config::OutboundConfig& config_;
};

// The outbound for a config entry (an explicit table: worker/proxy/registry.cc).
std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config);

}  // namespace xsup::worker::proxy
