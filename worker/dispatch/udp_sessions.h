#pragma once
// UdpSessions: the UDP side of an inbound (dokodemo-door, SOCKS UDP). Datagrams from one
// client address form one session with one packet stream to its outbound; replies come
// back through a callback. Idle sessions are swept by one timer, not one per packet.

#include <asio/awaitable.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <span>

#include "worker/core/packet_stream.h"
#include "worker/core/session.h"

namespace xsup::worker::dispatch {

class Dispatcher;
using asio::awaitable;

class UdpSessions {
 public:
  // Sends one reply datagram (from `from`) back to `client`.
  using Reply = std::function<awaitable<void>(std::span<const std::uint8_t> payload,
                                              const net::Destination& from,
                                              const asio::ip::udp::endpoint& client)>;

  // `prototype` carries the inbound's tag, protocol, local address, sniffing and policy.
  UdpSessions(Dispatcher& dispatcher, asio::any_io_executor executor, core::Session prototype,
              Reply reply, std::size_t max_sessions = 4096);
  ~UdpSessions();

  // Routes one datagram from `client` to `target`.
  awaitable<void> send(const asio::ip::udp::endpoint& client, const net::Destination& target,
                       std::span<const std::uint8_t> payload);
  // Ends the session of one client (its TCP association closed).
  void close(const asio::ip::udp::endpoint& client);
  void close_all();
  std::size_t size() const { return sessions_.size(); }

 private:
  struct Entry;
  awaitable<void> read_replies(std::shared_ptr<Entry> entry);
  awaitable<void> sweep();

  Dispatcher& dispatcher_;
  asio::any_io_executor executor_;
  core::Session prototype_;
  Reply reply_;
  std::size_t max_sessions_;
  std::map<asio::ip::udp::endpoint, std::shared_ptr<Entry>> sessions_;
  asio::steady_timer sweeper_;
  std::shared_ptr<bool> alive_;
};

}  // namespace xsup::worker::dispatch
