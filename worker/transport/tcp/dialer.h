#pragma once
// Dials outbound TCP connections: resolves a domain off the event loop, applies
// sockopt (spec/sockopt.md §2) before connect, and gives up after 16 s as Xray does.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <cstdint>
#include <string>

#include "shared/base/error.h"
#include "shared/config/model.h"
#include "shared/net/destination.h"

namespace xsup::worker::transport::tcp {

using asio::awaitable;
using base::Expected;

struct DialOptions {
  const config::SockoptConfig* sockopt = nullptr;
  std::string send_through;  // local IP to bind, "" = any
  config::DomainStrategy domain_strategy = config::DomainStrategy::kAsIs;
};

awaitable<Expected<asio::ip::tcp::socket>> dial(const net::Destination& to,
                                                const DialOptions& options);

// Resolves a domain to addresses, honouring the family a strategy asks for; an IP
// destination resolves to itself.
awaitable<Expected<std::vector<asio::ip::address>>> resolve(const net::Address& address,
                                                            config::DomainStrategy strategy);

// Applies the socket options of `sockopt` that belong before connect/bind.
void apply_sockopt(int fd, bool tcp, bool v6, const config::SockoptConfig& sockopt, bool listener);

}  // namespace xsup::worker::transport::tcp
