// C++20 turns off libstdc++'s extern template for std::string, so every object emits weak
// copies of its members; a static-library object that defines them can then be pulled into
// a link (the unit tests, via GoogleTest's references) that never uses the object itself.
// This one needs the dispatcher, so it must only be linked where it is used.
#include <string>
extern template class std::basic_string<char>;

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <string_view>
#include <vector>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/deadline.h"
#include "worker/core/prefetch.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/proxy/socks/codec.h"
#include "worker/proxy/socks/handshake_reader.h"
#include "worker/proxy/socks/http_handoff.h"
#include "worker/proxy/socks/inbound.h"
#include "worker/proxy/socks/server_handshake.h"
#include "worker/proxy/socks/socks.h"

#if __has_include("worker/proxy/http/http.h")
#include "worker/proxy/http/http.h"
#define XSUP_SOCKS_HTTP_HANDOFF 1
#endif

namespace xsup::worker::proxy::socks {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;

// Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; the filter compares plain IPv4.
asio::ip::address unmapped(const asio::ip::address& ip) {
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  }
  return ip;
}

}  // namespace

struct SocksInbound::UdpClient {
  asio::ip::udp::endpoint endpoint;
  asio::ip::address ip;  // endpoint's address, unmapped
  core::Session session;
  core::PacketStreamPtr packets;  // null while the dispatcher opens it
  Clock::time_point last_active;
  bool closed = false;
  // The first datagram, held while the packet stream opens.
  core::Buffer pending;
  std::size_t pending_size = 0;
};

SocksInbound::SocksInbound(const InboundContext& context)
    : context_(context),
      settings_(std::get<config::SocksInbound>(context.config.settings)),
      udp_rx_(settings_.udp ? std::make_unique<std::uint8_t[]>(kUdpRxSize) : nullptr) {}

SocksInbound::~SocksInbound() = default;

std::unique_ptr<Inbound> make_socks_inbound(const InboundContext& context) {
  return std::make_unique<SocksInbound>(context);
}

// ---- TCP ---------------------------------------------------------------------------------

awaitable<void> SocksInbound::serve(core::StreamPtr stream, core::Session session) {
  session.level = settings_.user_level;
  session.policy = context_.policy.level(settings_.user_level);
  session.sniffing = &context_.config.sniffing;

  core::Buffer buffer = core::BufferPool::local().acquire();
  HandshakeReader reader{buffer.span()};
  core::Deadline deadline(*stream, session.policy.handshake);
  auto result = co_await accept_handshake(*stream, reader, settings_, session.local);
  if (!result) {
    const base::Error& error = result.error();
    if (deadline.expired()) {
      log::info(session.id, "socks: rejected: handshake timeout");
    } else if (!error.reason.empty()) {
      log::info(session.id, "socks: rejected: {}", error.reason);
    } else {
      log::info(session.id, "socks: rejected: {}", error.code.message());
    }
    stream->close();
    co_return;
  }
  deadline.cancel();
  if (const config::Account* account = result->account) {
    session.user = account->email.empty() ? account->user : account->email;
    session.level = account->level;
    session.policy = context_.policy.level(account->level);
  }

  switch (result->next) {
    case HandshakeResult::Next::kConnect:
      session.target = std::move(result->target);
      session.original_target = session.target;
      co_await context_.dispatcher.dispatch(
          session, *stream, core::Prefetch{std::move(buffer), reader.pos, reader.filled});
      co_return;
    case HandshakeResult::Next::kUdpAssociate:
      buffer = core::Buffer();  // an idle association holds no pooled buffer
      co_await hold_association(*stream, session);
      co_return;
    case HandshakeResult::Next::kNotSocks:
      // Xray serves HTTP proxy clients on the SOCKS port too (proxy/socks/server.go).
#ifdef XSUP_SOCKS_HTTP_HANDOFF
      co_await http::serve_as_http(context_, std::move(stream), std::move(session),
                                   core::Prefetch{std::move(buffer), 0, reader.filled});
#else
      log::info(session.id, "socks: rejected: not SOCKS, and the HTTP inbound is not built in");
      stream->close();
#endif
      co_return;
  }
}

awaitable<void> SocksInbound::hold_association(core::Stream& stream, const core::Session& session) {
  const bool has_ip = session.source.address.is_ip();
  const asio::ip::address ip = has_ip ? unmapped(session.source.address.ip()) : asio::ip::address();
  if (has_ip) {
    Association& a = associations_[ip];
    ++a.connections;
    a.user = session.user;
    a.level = session.level;
  }
  log::debug(session.id, "socks: UDP ASSOCIATE from {}", session.source.host_port());
  // The TCP connection only says the association is alive (RFC 1928 §7): drain it until the
  // client closes it.
  std::array<std::uint8_t, 256> sink;
  for (;;) {
    auto r = co_await stream.read_some(asio::buffer(sink));
    if (r.ec) break;
  }
  stream.close();
  if (has_ip) end_association(ip);
}

void SocksInbound::end_association(const asio::ip::address& ip) {
  auto it = associations_.find(ip);
  if (it == associations_.end() || --it->second.connections > 0) return;
  associations_.erase(it);
  std::vector<std::shared_ptr<UdpClient>> ended;
  for (auto& [endpoint, client] : udp_clients_) {
    if (client->ip == ip) ended.push_back(client);
  }
  for (auto& client : ended) close_client(client);
}

// ---- UDP ---------------------------------------------------------------------------------

awaitable<void> SocksInbound::serve_udp(asio::ip::udp::socket& socket) {
  if (!udp_rx_) co_return;
  auto executor = socket.get_executor();
  asio::steady_timer drained(executor, Clock::time_point::max());
  asio::steady_timer sweep(executor);
  udp_socket_ = &socket;
  drained_ = &drained;
  sweep_timer_ = &sweep;
  udp_stopping_ = false;

  task_started();
  asio::co_spawn(executor, sweep_idle(), task_done("udp idle sweep"));

  asio::ip::udp::endpoint from;
  for (;;) {
    auto [ec, n] =
        co_await socket.async_receive_from(asio::buffer(udp_rx_.get(), kUdpRxSize), from, kTuple);
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
        !socket.is_open()) {
      break;
    }
    if (ec) {
      log::debug(0, "socks: udp receive: {}", ec.message());
      continue;
    }
    co_await on_datagram(from, n);
  }

  // Stop: end every client and wait for the coroutines that use the socket and this object.
  udp_stopping_ = true;
  sweep.cancel();
  std::vector<std::shared_ptr<UdpClient>> all;
  all.reserve(udp_clients_.size());
  for (auto& [endpoint, client] : udp_clients_) all.push_back(client);
  for (auto& client : all) close_client(client);
  if (tasks_ > 0) co_await drained.async_wait(kTuple);
  drained_ = nullptr;
  sweep_timer_ = nullptr;
  udp_socket_ = nullptr;
}

awaitable<void> SocksInbound::on_datagram(const asio::ip::udp::endpoint& from, std::size_t size) {
  std::span<const std::uint8_t> datagram(udp_rx_.get(), size);
  auto header = parse_udp_header(datagram);
  if (!header) {
    log::debug(0, "socks: udp: dropped a datagram from {}: {}", from.address().to_string(),
               header.error().reason);
    co_return;
  }
  const asio::ip::address ip = unmapped(from.address());
  auto association = associations_.find(ip);
  // With authentication on, only a client that holds an authenticated UDP ASSOCIATE
  // connection may use the relay (Xray's udpFilter).
  if (settings_.auth_password && association == associations_.end()) {
    log::debug(0, "socks: udp: dropped a datagram from {}: no association", ip.to_string());
    co_return;
  }
  std::span<const std::uint8_t> payload = datagram.subspan(header->consumed);

  auto it = udp_clients_.find(from);
  if (it == udp_clients_.end()) {
    if (udp_clients_.size() >= kMaxUdpClients) {
      log::warning(0, "socks: udp: {} clients already, dropped a new one from {}",
                   udp_clients_.size(), ip.to_string());
      co_return;
    }
    auto client = std::make_shared<UdpClient>();
    client->endpoint = from;
    client->ip = ip;
    client->last_active = Clock::now();
    core::Session& s = client->session;
    s.id = core::Session::next_id();
    s.inbound_tag = context_.config.tag;
    s.inbound_protocol = "socks";
    s.source = {net::Network::kUdp, net::Address(ip), from.port()};
    std::error_code ec;
    auto local = udp_socket_->local_endpoint(ec);
    if (!ec) s.local = {net::Network::kUdp, net::Address(unmapped(local.address())), local.port()};
    s.level = settings_.user_level;
    if (association != associations_.end()) {
      s.user = association->second.user;
      s.level = association->second.level;
    }
    s.policy = context_.policy.level(s.level);
    s.sniffing = &context_.config.sniffing;
    s.target = header->value;
    s.original_target = header->value;
    if (payload.size() <= core::BufferPool::kBufferSize) {
      client->pending = core::BufferPool::local().acquire();
      std::copy(payload.begin(), payload.end(), client->pending.data());
      client->pending_size = payload.size();
    }
    udp_clients_.emplace(from, client);
    task_started();
    asio::co_spawn(udp_socket_->get_executor(), open_client(std::move(client)),
                   task_done("udp client"));
    co_return;
  }

  std::shared_ptr<UdpClient> client = it->second;  // alive across the send
  client->last_active = Clock::now();
  if (!client->packets) {
    log::debug(client->session.id, "socks: udp: dropped a datagram while the session opens");
    co_return;
  }
  net::Destination to = std::move(header->value);
  if (auto ec = co_await client->packets->send(payload, to); ec) {
    log::debug(client->session.id, "socks: udp: send to {}: {}", to.host_port(), ec.message());
  }
}

awaitable<void> SocksInbound::open_client(std::shared_ptr<UdpClient> client) {
  auto packets = co_await context_.dispatcher.open_packets(client->session);
  if (!packets) {
    log::info(client->session.id, "socks: udp: {}: {}", client->session.target.to_string(),
              packets.error().message());
    close_client(client);
    co_return;
  }
  if (client->closed) {
    (*packets)->close();
    co_return;
  }
  client->packets = std::move(*packets);
  if (client->pending) {
    auto ec = co_await client->packets->send({client->pending.data(), client->pending_size},
                                             client->session.target);
    if (ec) log::debug(client->session.id, "socks: udp: first send: {}", ec.message());
    client->pending = core::Buffer();
  }
  co_await read_replies(client);
}

awaitable<void> SocksInbound::read_replies(std::shared_ptr<UdpClient> client) {
  // Replies are received past room for the largest header, which is then written just in
  // front of the payload: one send, no copy.
  core::Buffer buffer = core::BufferPool::local().acquire();
  std::uint8_t* const payload = buffer.data() + kMaxUdpHeaderSize;
  const std::size_t room = buffer.capacity() - kMaxUdpHeaderSize;
  while (!client->closed) {
    auto r = co_await client->packets->receive(asio::buffer(payload, room));
    if (r.ec) {
      if (!client->closed) {
        log::debug(client->session.id, "socks: udp: session ended: {}", r.ec.message());
      }
      break;
    }
    client->last_active = Clock::now();
    const std::size_t header_size = udp_header_size(r.peer.address);
    if (header_size == 0) continue;
    std::uint8_t* const start = payload - header_size;
    encode_udp_header(r.peer.address, r.peer.port, {start, header_size});
    if (udp_socket_ == nullptr) break;
    auto [ec, n] = co_await udp_socket_->async_send_to(asio::buffer(start, header_size + r.bytes),
                                                       client->endpoint, kTuple);
    if (ec) log::debug(client->session.id, "socks: udp: reply to client: {}", ec.message());
  }
  close_client(client);
}

awaitable<void> SocksInbound::sweep_idle() {
  // One timer for every client: each sweep closes the sessions idle for their connIdle.
  const auto idle = context_.policy.level(settings_.user_level).conn_idle;
  const auto period =
      std::clamp<Clock::duration>(idle / 4, std::chrono::seconds(1), std::chrono::seconds(30));
  std::vector<std::shared_ptr<UdpClient>> expired;
  while (!udp_stopping_) {
    sweep_timer_->expires_after(period);
    co_await sweep_timer_->async_wait(kTuple);
    if (udp_stopping_) break;
    const auto now = Clock::now();
    expired.clear();
    for (auto& [endpoint, client] : udp_clients_) {
      if (now - client->last_active >= client->session.policy.conn_idle) expired.push_back(client);
    }
    for (auto& client : expired) {
      log::debug(client->session.id, "socks: udp: idle session closed");
      close_client(client);
    }
  }
}

void SocksInbound::close_client(const std::shared_ptr<UdpClient>& client) {
  if (client->closed) return;
  client->closed = true;
  // The packet stream is closed, not destroyed: a send or receive may still be pending on
  // it; the last coroutine holding the client frees it.
  if (client->packets) client->packets->close();
  auto it = udp_clients_.find(client->endpoint);
  if (it != udp_clients_.end() && it->second == client) udp_clients_.erase(it);
}

void SocksInbound::task_ended() {
  if (--tasks_ == 0 && udp_stopping_ && drained_ != nullptr) drained_->cancel();
}

std::function<void(std::exception_ptr)> SocksInbound::task_done(std::string_view what) {
  return [this, what](std::exception_ptr error) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        log::error(0, "socks: {} failed: {}", what, e.what());
      } catch (...) {
        log::error(0, "socks: {} failed", what);
      }
    }
    task_ended();
  };
}

}  // namespace xsup::worker::proxy::socks
