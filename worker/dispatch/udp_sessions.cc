#include "worker/dispatch/udp_sessions.h"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/dispatch/dispatcher.h"

namespace xsup::worker::dispatch {
namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace

struct UdpSessions::Entry {
  core::Session session;
  asio::ip::udp::endpoint client;
  core::PacketStreamPtr stream;
  Clock::time_point last_activity = Clock::now();
  bool closed = false;

  void close() {
    if (closed) return;
    closed = true;
    if (stream) stream->close();
  }
};

UdpSessions::UdpSessions(Dispatcher& dispatcher, asio::any_io_executor executor,
                         core::Session prototype, Reply reply, std::size_t max_sessions)
    : dispatcher_(dispatcher),
      executor_(executor),
      prototype_(std::move(prototype)),
      reply_(std::move(reply)),
      max_sessions_(max_sessions),
      sweeper_(executor),
      alive_(std::make_shared<bool>(true)) {
  asio::co_spawn(executor_, sweep(), [](std::exception_ptr e) {
    if (e) log::error(0, "udp sweeper ended by an exception");
  });
}

UdpSessions::~UdpSessions() {
  *alive_ = false;
  sweeper_.cancel();
  close_all();
}

awaitable<void> UdpSessions::send(const asio::ip::udp::endpoint& client,
                                  const net::Destination& target,
                                  std::span<const std::uint8_t> payload) {
  auto it = sessions_.find(client);
  std::shared_ptr<Entry> entry;
  if (it == sessions_.end()) {
    if (sessions_.size() >= max_sessions_) {
      log::warning(0, "{}: too many UDP sessions ({}), datagram from {} dropped",
                   prototype_.inbound_tag, sessions_.size(), client.address().to_string());
      co_return;
    }
    entry = std::make_shared<Entry>();
    entry->session = prototype_;
    entry->session.id = core::Session::next_id();
    entry->session.source.network = net::Network::kUdp;
    entry->session.source.address = net::Address(client.address());
    entry->session.source.port = client.port();
    entry->session.target = target;
    entry->session.original_target = target;
    entry->client = client;
    sessions_.emplace(client, entry);
    auto stream = co_await dispatcher_.open_packets(entry->session);
    if (!stream) {
      log::info(entry->session.id, "udp: cannot open {}: {}", target.to_string(),
                stream.error().message());
      sessions_.erase(client);
      co_return;
    }
    if (entry->closed) {  // closed while opening
      (*stream)->close();
      co_return;
    }
    entry->stream = std::move(*stream);
    asio::co_spawn(executor_, read_replies(entry), [id = entry->session.id](std::exception_ptr e) {
      if (e) log::error(id, "udp reply reader ended by an exception");
    });
  } else {
    entry = it->second;
    if (!entry->stream) co_return;  // still opening: drop, as a lossy link would
  }
  entry->last_activity = Clock::now();
  std::error_code ec = co_await entry->stream->send(payload, target);
  if (ec)
    log::debug(entry->session.id, "udp: send to {} failed: {}", target.to_string(), ec.message());
}

awaitable<void> UdpSessions::read_replies(std::shared_ptr<Entry> entry) {
  auto alive = alive_;
  while (!entry->closed) {
    core::Buffer buffer = core::BufferPool::local().acquire();
    auto r = co_await entry->stream->receive(asio::buffer(buffer.data(), buffer.capacity()));
    if (r.ec || !*alive) break;
    entry->last_activity = Clock::now();
    co_await reply_(std::span<const std::uint8_t>(buffer.data(), r.bytes), r.peer, entry->client);
  }
  if (!*alive) co_return;
  entry->close();
  auto it = sessions_.find(entry->client);
  if (it != sessions_.end() && it->second == entry) sessions_.erase(it);
  log::debug(entry->session.id, "udp session from {} ended", entry->client.address().to_string());
}

void UdpSessions::close(const asio::ip::udp::endpoint& client) {
  auto it = sessions_.find(client);
  if (it == sessions_.end()) return;
  it->second->close();
  sessions_.erase(it);
}

void UdpSessions::close_all() {
  for (auto& [client, entry] : sessions_) entry->close();
  sessions_.clear();
}

awaitable<void> UdpSessions::sweep() {
  auto alive = alive_;
  auto idle = prototype_.policy.conn_idle;
  auto period = std::max<Clock::duration>(std::chrono::seconds(1), idle / 4);
  while (*alive) {
    sweeper_.expires_after(period);
    auto [ec] = co_await sweeper_.async_wait(kTuple);
    if (ec || !*alive) co_return;
    auto now = Clock::now();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (now - it->second->last_activity >= idle) {
        it->second->close();
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

}  // namespace xsup::worker::dispatch
