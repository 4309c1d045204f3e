#pragma once
// Dispatcher: the hub between inbounds and outbounds (DESIGN.md §2, Xray's
// DefaultDispatcher). It sniffs the first client bytes when the inbound asks, asks the
// router for an outbound, connects through it and runs the relay.

#include <asio/awaitable.hpp>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "shared/base/error.h"
#include "shared/config/model.h"
#include "worker/core/packet_stream.h"
#include "worker/core/prefetch.h"
#include "worker/core/session.h"
#include "worker/core/stream.h"
#include "worker/dispatch/route.h"
#include "worker/dispatch/sniff_exclusions.h"
#include "worker/proxy/outbound.h"

namespace xsup::worker::dispatch {

using asio::awaitable;
using base::Expected;

class Dispatcher {
 public:
  Dispatcher(const config::Config& config, std::vector<std::unique_ptr<proxy::Outbound>> outbounds,
             std::unique_ptr<Router> router);
  ~Dispatcher();

  // TCP: sniffs (per session.sniffing), routes, connects and relays until the
  // connection ends; logs the access line and the end. `first` holds client bytes
  // already read past the inbound's header.
  awaitable<void> dispatch(core::Session& session, core::Stream& client, core::Prefetch first);

  // Routes and connects without sniffing or relaying (the HTTP inbound's plain-request
  // path, which rewrites every request).
  awaitable<Expected<core::StreamPtr>> connect(core::Session& session);

  // UDP: routes one UDP session and opens its packet stream.
  awaitable<Expected<core::PacketStreamPtr>> open_packets(core::Session& session);
  // The worker drains: every outbound lets go of what it holds open between sessions.
  void drain_outbounds() {
    for (auto& outbound : outbounds_) outbound->drain();
  }

  const config::Config& config() const { return config_; }

 private:
  awaitable<Expected<proxy::Outbound*>> route(core::Session& session);

  const config::Config& config_;
  std::vector<std::unique_ptr<proxy::Outbound>> outbounds_;
  std::unique_ptr<Router> router_;
  std::map<const config::SniffingConfig*, SniffExclusions> sniff_exclusions_;
};

}  // namespace xsup::worker::dispatch
