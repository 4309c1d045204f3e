#pragma once
// Session: what Xray keeps in a connection's context, passed by reference down one
// connection's coroutine tree (DESIGN.md §2).

#include <cstdint>
#include <string>

#include "shared/config/model.h"
#include "shared/net/destination.h"
#include "worker/core/traffic.h"

namespace xsup::worker::core {

// Timeouts and limits of one user level, filled from the config's `policy` (STYLE.md §4).
using Policy = config::PolicyLevel;

struct Session {
  std::uint64_t id = 0;
  std::string inbound_tag;
  std::string inbound_protocol;  // "socks", "http", "dokodemo-door"
  net::Destination source;       // the client
  net::Destination local;        // the inbound's own address
  std::string user;              // email of the authenticated user, "" = anonymous
  bool user_from_store = false;  // the user came from the store (may lose access live)
  std::uint32_t level = 0;
  net::Destination target;           // where the outbound goes
  net::Destination original_target;  // as the inbound decoded it
  std::string route_domain;          // sniffed domain used for routing only (routeOnly)
  std::string protocol;              // sniffed protocol name ("tls", "http1", ...)
  std::string tls_server_name;       // SNI of the inbound's TLS session, "" without one
  std::string tls_alpn;              // ALPN agreed by the inbound's TLS session
  std::string outbound_tag;
  const config::SniffingConfig* sniffing = nullptr;
  Policy policy;
  TrafficCells traffic;  // where the relay counts this session's bytes

  // A fresh random id, as Xray's session ids (never 0).
  static std::uint64_t next_id();
};

}  // namespace xsup::worker::core
