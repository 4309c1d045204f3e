#pragma once
// The SOCKS inbound (Xray's proxy/socks server): SOCKS4, SOCKS4a and SOCKS5 on one TCP
// port, HTTP proxy requests handed to the HTTP inbound, and the SOCKS5 UDP relay on the
// UDP socket of the same port.
//
// TCP: one coroutine per connection decodes the handshake from one pooled buffer under the
// policy's handshake deadline, then gives the stream and the bytes read past the header to
// the dispatcher. A UDP ASSOCIATE connection is held open until the client closes it; its
// end ends that client's UDP sessions.
// UDP: one receive loop on the inbound's socket keeps a bounded table of client sessions,
// each with a packet stream from the dispatcher and a reader coroutine for the replies;
// one sweep timer closes idle ones.

#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "shared/config/model.h"
#include "worker/core/packet_stream.h"
#include "worker/core/session.h"
#include "worker/proxy/inbound.h"

namespace xsup::worker::proxy::socks {

class SocksInbound final : public Inbound {
 public:
  // New UDP clients beyond this many are dropped with a log line.
  static constexpr std::size_t kMaxUdpClients = 4096;

  explicit SocksInbound(const InboundContext& context);
  ~SocksInbound() override;

  awaitable<void> serve(core::StreamPtr stream, core::Session session) override;
  bool wants_udp() const override { return settings_.udp; }
  awaitable<void> serve_udp(asio::ip::udp::socket& socket) override;

  std::size_t udp_clients() const { return udp_clients_.size(); }

 private:
  struct UdpClient;
  // Who may send UDP: client IPs with a live UDP ASSOCIATE connection (a count, since one
  // client may hold several), with the user that authenticated it.
  struct Association {
    std::size_t connections = 0;
    std::string user;
    std::uint32_t level = 0;
  };

  awaitable<void> hold_association(core::Stream& stream, const core::Session& session);
  void end_association(const asio::ip::address& ip);

  awaitable<void> on_datagram(const asio::ip::udp::endpoint& from, std::size_t size);
  awaitable<void> open_client(std::shared_ptr<UdpClient> client);
  awaitable<void> read_replies(std::shared_ptr<UdpClient> client);
  awaitable<void> sweep_idle();
  void close_client(const std::shared_ptr<UdpClient>& client);
  void task_started() { ++tasks_; }
  void task_ended();
  // The completion handler of a spawned coroutine: logs an escaped exception, counts it out.
  std::function<void(std::exception_ptr)> task_done(std::string_view what);

  InboundContext context_;
  const config::SocksInbound& settings_;

  std::unordered_map<asio::ip::address, Association> associations_;
  std::unordered_map<asio::ip::udp::endpoint, std::shared_ptr<UdpClient>> udp_clients_;
  asio::ip::udp::socket* udp_socket_ = nullptr;
  // Datagrams from clients: one at a time, into this fixed buffer (RFC 768's maximum).
  std::unique_ptr<std::uint8_t[]> udp_rx_;
  static constexpr std::size_t kUdpRxSize = 64 * 1024;
  // Coroutines spawned by serve_udp; it returns only when all of them have ended, so none
  // outlives the socket or this object.
  std::size_t tasks_ = 0;
  bool udp_stopping_ = false;
  asio::steady_timer* drained_ = nullptr;
  asio::steady_timer* sweep_timer_ = nullptr;
};

}  // namespace xsup::worker::proxy::socks
