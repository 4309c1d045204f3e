#pragma once
// The SOCKS5 UDP relay of one inbound (RFC 1928 §7), apart from the TCP side so it can be
// driven without a dispatcher. One receive loop on the inbound's UDP socket keeps a bounded
// table of client sessions keyed by the client's endpoint: the first datagram of a client
// opens a packet stream (through the dispatcher, in the inbound), later ones reuse it with
// their own destinations, and a reader coroutine per client sends the replies back with a
// SOCKS header naming their source. One sweep timer closes idle sessions.
//
// The TCP side reports UDP ASSOCIATE connections: with `require_association` (password
// authentication on) only their client IPs may use the relay (Xray's udpFilter), and when an
// IP's last association closes, its UDP sessions end.

#include <asio/awaitable.hpp>
#include <asio/ip/udp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "shared/base/error.h"
#include "shared/config/model.h"
#include "worker/core/packet_stream.h"
#include "worker/core/session.h"

namespace xsup::worker::proxy::socks {

class UdpRelay {
 public:
  using OpenPackets =
      std::function<asio::awaitable<base::Expected<core::PacketStreamPtr>>(core::Session&)>;

  struct Options {
    std::string inbound_tag;
    bool require_association = false;
    std::uint32_t level = 0;  // of anonymous clients
    core::Policy policy;      // of `level`: connIdle closes idle sessions
    const config::SniffingConfig* sniffing = nullptr;
    std::size_t max_clients = 4096;  // new clients past this are dropped with a log line
  };

  UdpRelay(Options options, OpenPackets open);
  ~UdpRelay();
  UdpRelay(const UdpRelay&) = delete;
  UdpRelay& operator=(const UdpRelay&) = delete;

  // A UDP ASSOCIATE connection from `ip` opened (by `user`, "" = anonymous) / closed.
  void associate(const asio::ip::address& ip, const std::string& user, std::uint32_t level,
                 const core::Policy& policy);
  void dissociate(const asio::ip::address& ip);

  // Serves `socket` until it is closed; returns once every coroutine it started has ended.
  asio::awaitable<void> serve(asio::ip::udp::socket& socket);

  std::size_t clients() const { return clients_.size(); }

 private:
  struct Client;
  struct Association {
    std::size_t connections = 0;  // one client may hold several
    std::string user;
    std::uint32_t level = 0;
    core::Policy policy;
  };

  asio::awaitable<void> on_datagram(const asio::ip::udp::endpoint& from, std::size_t size);
  asio::awaitable<void> open_client(std::shared_ptr<Client> client);
  asio::awaitable<void> read_replies(std::shared_ptr<Client> client);
  asio::awaitable<void> sweep_idle();
  void close_client(const std::shared_ptr<Client>& client);
  void task_started() { ++tasks_; }
  void task_ended();
  // The completion handler of a spawned coroutine: logs an escaped exception, counts it out.
  std::function<void(std::exception_ptr)> task_done(std::string_view what);

  Options options_;
  OpenPackets open_;
  std::unordered_map<asio::ip::address, Association> associations_;
  std::unordered_map<asio::ip::udp::endpoint, std::shared_ptr<Client>> clients_;
  // Datagrams from clients, one at a time, into this fixed buffer (the largest UDP payload).
  static constexpr std::size_t kRxSize = 64 * 1024;
  std::unique_ptr<std::uint8_t[]> rx_;
  asio::ip::udp::socket* socket_ = nullptr;
  // serve() waits on `drained_` until `tasks_` is 0, so no coroutine outlives the socket or
  // this object.
  std::size_t tasks_ = 0;
  bool stopping_ = false;
  asio::steady_timer* drained_ = nullptr;
  asio::steady_timer* sweep_timer_ = nullptr;
};

// Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; the relay compares plain IPv4.
asio::ip::address unmapped(const asio::ip::address& ip);

}  // namespace xsup::worker::proxy::socks
