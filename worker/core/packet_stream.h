#pragma once
// PacketStream: datagrams with a destination per packet (SOCKS UDP, freedom UDP, and later
// VLESS/Trojan/Shadowsocks UDP and XUDP).

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <memory>
#include <span>
#include <system_error>

#include "shared/net/destination.h"

namespace xsup::worker::core {

using asio::awaitable;

struct PacketResult {
  std::error_code ec;
  std::size_t bytes = 0;
  net::Destination peer;  // where the packet came from
};

class PacketStream {
 public:
  virtual ~PacketStream() = default;
  virtual asio::any_io_executor get_executor() = 0;
  // Receives one datagram into buffer (truncated to its size).
  virtual awaitable<PacketResult> receive(asio::mutable_buffer buffer) = 0;
  // Sends one datagram to `to`.
  virtual awaitable<std::error_code> send(std::span<const std::uint8_t> payload,
                                          const net::Destination& to) = 0;
  virtual void close() = 0;
};

using PacketStreamPtr = std::unique_ptr<PacketStream>;

}  // namespace xsup::worker::core
