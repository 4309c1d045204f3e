#include "worker/proxy/socks/udp_relay.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <vector>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/proxy/socks/codec.h"

namespace xsup::worker::proxy::socks {
namespace {

using asio::awaitable;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;

}  // namespace

asio::ip::address unmapped(const asio::ip::address& ip) {
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  }
  return ip;
}

struct UdpRelay::Client {
  asio::ip::udp::endpoint endpoint;
  asio::ip::address ip;  // endpoint's address, unmapped
  core::Session session;
  core::PacketStreamPtr packets;  // null while it opens
  Clock::time_point last_active;
  bool closed = false;
  // The first datagram, held while the packet stream opens.
  core::Buffer pending;
  std::size_t pending_size = 0;
};

UdpRelay::UdpRelay(Options options, OpenPackets open)
    : options_(std::move(options)),
      open_(std::move(open)),
      rx_(std::make_unique<std::uint8_t[]>(kRxSize)) {}

UdpRelay::~UdpRelay() = default;

void UdpRelay::associate(const asio::ip::address& ip, const std::string& user, std::uint32_t level,
                         const core::Policy& policy) {
  Association& a = associations_[unmapped(ip)];
  ++a.connections;
  a.user = user;
  a.level = level;
  a.policy = policy;
}

void UdpRelay::dissociate(const asio::ip::address& address) {
  const asio::ip::address ip = unmapped(address);
  auto it = associations_.find(ip);
  if (it == associations_.end() || --it->second.connections > 0) return;
  associations_.erase(it);
  std::vector<std::shared_ptr<Client>> ended;
  for (auto& [endpoint, client] : clients_) {
    if (client->ip == ip) ended.push_back(client);
  }
  for (auto& client : ended) close_client(client);
}

awaitable<void> UdpRelay::serve(asio::ip::udp::socket& socket) {
  auto executor = socket.get_executor();
  asio::steady_timer drained(executor, Clock::time_point::max());
  asio::steady_timer sweep(executor);
  socket_ = &socket;
  drained_ = &drained;
  sweep_timer_ = &sweep;
  stopping_ = false;

  task_started();
  asio::co_spawn(executor, sweep_idle(), task_done("udp idle sweep"));

  asio::ip::udp::endpoint from;
  for (;;) {
    auto [ec, n] =
        co_await socket.async_receive_from(asio::buffer(rx_.get(), kRxSize), from, kTuple);
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
  stopping_ = true;
  sweep.cancel();
  std::vector<std::shared_ptr<Client>> all;
  all.reserve(clients_.size());
  for (auto& [endpoint, client] : clients_) all.push_back(client);
  for (auto& client : all) close_client(client);
  if (tasks_ > 0) co_await drained.async_wait(kTuple);
  drained_ = nullptr;
  sweep_timer_ = nullptr;
  socket_ = nullptr;
}

awaitable<void> UdpRelay::on_datagram(const asio::ip::udp::endpoint& from, std::size_t size) {
  std::span<const std::uint8_t> datagram(rx_.get(), size);
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
  if (options_.require_association && association == associations_.end()) {
    log::debug(0, "socks: udp: dropped a datagram from {}: no association", ip.to_string());
    co_return;
  }
  std::span<const std::uint8_t> payload = datagram.subspan(header->consumed);

  auto it = clients_.find(from);
  if (it == clients_.end()) {
    if (clients_.size() >= options_.max_clients) {
      log::warning(0, "socks: udp: {} clients already, dropped a new one from {}", clients_.size(),
                   ip.to_string());
      co_return;
    }
    auto client = std::make_shared<Client>();
    client->endpoint = from;
    client->ip = ip;
    client->last_active = Clock::now();
    core::Session& s = client->session;
    s.id = core::Session::next_id();
    s.inbound_tag = options_.inbound_tag;
    s.inbound_protocol = "socks";
    s.source = {net::Network::kUdp, net::Address(ip), from.port()};
    std::error_code ec;
    auto local = socket_->local_endpoint(ec);
    if (!ec) s.local = {net::Network::kUdp, net::Address(unmapped(local.address())), local.port()};
    s.level = options_.level;
    s.policy = options_.policy;
    if (association != associations_.end()) {
      s.user = association->second.user;
      s.level = association->second.level;
      s.policy = association->second.policy;
    }
    s.sniffing = options_.sniffing;
    s.target = header->value;
    s.original_target = header->value;
    if (payload.size() <= core::BufferPool::kBufferSize) {
      client->pending = core::BufferPool::local().acquire();
      std::copy(payload.begin(), payload.end(), client->pending.data());
      client->pending_size = payload.size();
    }
    clients_.emplace(from, client);
    task_started();
    asio::co_spawn(socket_->get_executor(), open_client(std::move(client)),
                   task_done("udp client"));
    co_return;
  }

  std::shared_ptr<Client> client = it->second;  // alive across the send
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

awaitable<void> UdpRelay::open_client(std::shared_ptr<Client> client) {
  auto packets = co_await open_(client->session);
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

awaitable<void> UdpRelay::read_replies(std::shared_ptr<Client> client) {
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
    if (socket_ == nullptr) break;
    auto [ec, n] = co_await socket_->async_send_to(asio::buffer(start, header_size + r.bytes),
                                                   client->endpoint, kTuple);
    if (ec) log::debug(client->session.id, "socks: udp: reply to client: {}", ec.message());
  }
  close_client(client);
}

awaitable<void> UdpRelay::sweep_idle() {
  // One timer for every client: each sweep closes the sessions idle for their connIdle.
  const auto idle = options_.policy.conn_idle;
  const auto period =
      std::clamp<Clock::duration>(idle / 4, std::chrono::seconds(1), std::chrono::seconds(30));
  std::vector<std::shared_ptr<Client>> expired;
  while (!stopping_) {
    sweep_timer_->expires_after(period);
    co_await sweep_timer_->async_wait(kTuple);
    if (stopping_) break;
    const auto now = Clock::now();
    expired.clear();
    for (auto& [endpoint, client] : clients_) {
      if (now - client->last_active >= client->session.policy.conn_idle) expired.push_back(client);
    }
    for (auto& client : expired) {
      log::debug(client->session.id, "socks: udp: idle session closed");
      close_client(client);
    }
  }
}

void UdpRelay::close_client(const std::shared_ptr<Client>& client) {
  if (client->closed) return;
  client->closed = true;
  // The packet stream is closed, not destroyed: a send or receive may still be pending on
  // it; the last coroutine holding the client frees it.
  if (client->packets) client->packets->close();
  auto it = clients_.find(client->endpoint);
  if (it != clients_.end() && it->second == client) clients_.erase(it);
}

void UdpRelay::task_ended() {
  if (--tasks_ == 0 && stopping_ && drained_ != nullptr) drained_->cancel();
}

std::function<void(std::exception_ptr)> UdpRelay::task_done(std::string_view what) {
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
