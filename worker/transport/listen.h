#pragma once
// Binding the listening sockets of inbounds (spec/sockopt.md §3). The supervisor binds them
// once and hands them to every worker; a worker running alone binds its own.

#include <asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "shared/base/error.h"
#include "shared/config/model.h"

namespace xsup::worker::transport {

// A bound socket; closes itself.
class ListenSocket {
 public:
  ListenSocket() = default;
  explicit ListenSocket(int fd) : fd_(fd) {}
  ListenSocket(ListenSocket&& other) noexcept : fd_(other.release()) {}
  ListenSocket& operator=(ListenSocket&& other) noexcept;
  ListenSocket(const ListenSocket&) = delete;
  ListenSocket& operator=(const ListenSocket&) = delete;
  ~ListenSocket();

  int get() const { return fd_; }
  int release();
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// The address an inbound listens on ("" = 0.0.0.0).
base::Expected<asio::ip::address> listen_address(const config::InboundConfig& inbound);

// Every port of an inbound, in order.
std::vector<std::uint16_t> listen_ports(const config::InboundConfig& inbound);

// A listening TCP socket with the inbound's sockopt, SO_REUSEADDR, non-blocking, CLOEXEC.
base::Expected<ListenSocket> bind_tcp(const asio::ip::address& ip, std::uint16_t port,
                                      const config::SockoptConfig& sockopt);

// A bound UDP socket. With reuse_port several sockets share the port and the kernel spreads
// client flows over them by address hash (one per worker slot, DESIGN.md §1).
base::Expected<ListenSocket> bind_udp(const asio::ip::address& ip, std::uint16_t port,
                                      const config::SockoptConfig& sockopt, bool reuse_port);

// The port a bound socket got (for port 0).
std::uint16_t local_port(int fd);

}  // namespace xsup::worker::transport
