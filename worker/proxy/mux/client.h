#pragma once
// The client side of Mux.Cool (spec/mux.md; Xray's mux.ClientManager): an outbound with
// `mux.enabled` sends its sessions as sub-streams of a few long-lived connections, each
// made by the protocol's own outbound to v1.mux.cool:9527 (VLESS and VMess send that as
// command 3, Trojan as the target). A connection takes at most `concurrency` live
// sessions and 128 in its life, as Xray's ClientStrategy; it closes after 16 s without one.
//
// TCP sessions become sub-streams; UDP sessions send New with an XUDP Global ID (derived
// from the client's address, so a reconnect keeps its public port on an Xray server) and
// addressed Keep frames, and take replies with or without an address (v2ray 4.x sends
// none). `xudpConcurrency` > 0 gives UDP connections of their own; a negative value, or a
// negative `concurrency`, sends that traffic without mux. UDP to port 443 (QUIC) is
// refused, muxed or sent without mux per `xudpProxyUDP443`.

#include <memory>

#include "shared/config/model.h"
#include "worker/proxy/outbound.h"

namespace xsup::worker::proxy::mux {

// Wraps `inner` (built from the same config) when its config enables mux.
std::unique_ptr<Outbound> make_client(const config::OutboundConfig& config,
                                      std::unique_ptr<Outbound> inner);

}  // namespace xsup::worker::proxy::mux
