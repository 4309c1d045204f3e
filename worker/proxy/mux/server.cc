#include "worker/proxy/mux/server.h"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <variant>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/prefetch.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/proxy/mux/connection.h"

namespace xsup::worker::proxy::mux {
namespace {

using asio::awaitable;
using namespace asio::experimental::awaitable_operators;  // NOLINT: operator|| on awaitables

// One UDP sub-session: datagrams both ways through a packet stream.
struct UdpSession {
  std::uint16_t id = 0;
  core::Session session;
  core::PacketStreamPtr packets;
  // Downlink frames carry the datagram's source when the client speaks XUDP or full-cone
  // (it sent a Global ID, uses session 0, or addressed a Keep frame); an old v2ray reads
  // plain datagrams.
  bool addressed = false;
  bool closed = false;
  std::optional<GlobalId> global_id;
  // Set when the connection ends under an XUDP session: its packet stream is parked for
  // the next connection with the same Global ID instead of closed.
  bool parking = false;
  std::unique_ptr<Signal> stop;
};

// spec/mux.md §3: an XUDP session outlives its connection by one minute.
constexpr std::chrono::seconds kXudpParkTime{60};

class Server {
 public:
  Server(core::Stream& stream, const core::Session& parent, dispatch::Dispatcher& dispatcher,
         XudpTable& xudp, std::string_view log_name)
      : connection_(stream),
        parent_(parent),
        dispatcher_(dispatcher),
        xudp_(xudp),
        log_name_(log_name),
        done_(stream.get_executor()),
        idle_timer_(stream.get_executor()) {}

  awaitable<void> run(std::span<const std::uint8_t> rest);

 private:
  awaitable<void> handle_new(const Frame& frame);
  awaitable<bool> pass_datagram(FrameReader& in, UdpSession& to, const Frame& frame);
  core::Session child_session(const net::Destination& target) const;
  void spawn(std::function<awaitable<void>()> task);
  awaitable<void> serve_tcp(std::shared_ptr<SubStream> sub, core::Session session);
  awaitable<void> serve_udp_downlink(std::shared_ptr<UdpSession> udp);
  awaitable<void> send_end(std::uint16_t id, bool error);
  // Closes the connection when it has had no session and no frame for connIdle (Xray
  // drops an idle mux connection too, spec/mux.md §1 "Idle handling").
  awaitable<void> watch_idle();

  Connection connection_;
  const core::Session& parent_;
  dispatch::Dispatcher& dispatcher_;
  XudpTable& xudp_;
  std::string_view log_name_;
  std::map<std::uint16_t, std::shared_ptr<SubStream>> tcp_;
  std::map<std::uint16_t, std::shared_ptr<UdpSession>> udp_;
  int live_ = 0;  // spawned sessions still running
  Signal done_;
  asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_frame_ = std::chrono::steady_clock::now();
  bool stopping_ = false;
};

awaitable<bool> Server::pass_datagram(FrameReader& in, UdpSession& to, const Frame& frame) {
  if (frame.data_size > in.max_take()) co_return co_await in.skip(frame.data_size);
  auto datagram = co_await in.take(frame.data_size);
  if (!datagram) co_return false;
  if (to.closed) co_return true;
  if (frame.status == Status::kKeep && frame.address) to.addressed = true;
  const net::Destination& target = frame.address ? *frame.address : to.session.target;
  if (std::error_code ec = co_await to.packets->send(*datagram, target); ec) {
    log::debug(to.session.id, "{}: mux: udp send to {}: {}", log_name_, target.to_string(),
               ec.message());
  }
  co_return true;
}

core::Session Server::child_session(const net::Destination& target) const {
  core::Session session;
  session.id = core::Session::next_id();
  session.inbound_tag = parent_.inbound_tag;
  session.inbound_protocol = parent_.inbound_protocol;
  session.source = parent_.source;
  session.local = parent_.local;
  session.user = parent_.user;
  session.user_from_store = parent_.user_from_store;
  session.level = parent_.level;
  session.sniffing = parent_.sniffing;
  session.policy = parent_.policy;
  session.traffic = parent_.traffic;
  session.target = target;
  session.original_target = target;
  return session;
}

void Server::spawn(std::function<awaitable<void>()> task) {
  ++live_;
  asio::co_spawn(connection_.get_executor(), std::move(task), [this](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& error) {
        log::error(parent_.id, "{}: mux session failed: {}", log_name_, error.what());
      }
    }
    --live_;
    done_.notify();
  });
}

awaitable<void> Server::send_end(std::uint16_t id, bool error) {
  Frame frame;
  frame.session_id = id;
  frame.status = Status::kEnd;
  frame.option = error ? kOptionError : 0;
  co_await connection_.write_frame(frame, {});
}

awaitable<void> Server::serve_tcp(std::shared_ptr<SubStream> sub, core::Session session) {
  log::debug(parent_.id, "{}: mux: session {} (id {}) to {}", log_name_, session.id, sub->id(),
             session.target.to_string());
  core::Prefetch first;
  co_await dispatcher_.dispatch(session, *sub, std::move(first));
  co_await sub->send_end(false);
  sub->close();
  auto it = tcp_.find(sub->id());
  if (it != tcp_.end() && it->second == sub) tcp_.erase(it);
}

awaitable<void> Server::serve_udp_downlink(std::shared_ptr<UdpSession> udp) {
  core::Buffer buffer = core::BufferPool::local().acquire();
  std::uint64_t packets_down = 0;
  const asio::mutable_buffer space =
      asio::buffer(buffer.data(), std::min(buffer.capacity(), kMaxFrameData));
  while (!udp->closed && !udp->parking) {
    auto received = co_await (udp->packets->receive(space) || udp->stop->wait());
    if (received.index() != 0) break;  // the connection ends
    const core::PacketResult& result = std::get<0>(received);
    if (result.ec) break;
    Frame frame;
    frame.session_id = udp->id;
    frame.status = Status::kKeep;
    frame.option = kOptionData;
    frame.data_size = result.bytes;
    if (udp->addressed) {
      frame.address = result.peer;
      frame.address->network = net::Network::kUdp;
    }
    if (co_await connection_.write_frame(frame, {buffer.data(), result.bytes})) break;
    ++packets_down;
  }
  if (udp->parking && udp->global_id) {
    xudp_.park(*udp->global_id, std::move(udp->packets));
  } else {
    udp->packets->close();
  }
  if (!udp->closed) co_await send_end(udp->id, false);
  udp->closed = true;
  auto it = udp_.find(udp->id);
  if (it != udp_.end() && it->second == udp) udp_.erase(it);
  log::info(udp->session.id, "closed {}: down {} packets (mux)", udp->session.target.to_string(),
            packets_down);
}

awaitable<void> Server::watch_idle() {
  const auto limit = parent_.policy.conn_idle;
  while (!stopping_) {
    idle_timer_.expires_after(limit);
    co_await idle_timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    if (tcp_.empty() && udp_.empty() && std::chrono::steady_clock::now() - last_frame_ >= limit) {
      log::debug(parent_.id, "{}: mux connection idle", log_name_);
      connection_.close();
      break;
    }
  }
}

awaitable<void> Server::handle_new(const Frame& frame) {
  const net::Destination& target = *frame.address;
  if (target.network == net::Network::kUdp) {
    auto udp = std::make_shared<UdpSession>();
    udp->id = frame.session_id;
    udp->session = child_session(target);
    udp->addressed = frame.global_id.has_value() || frame.session_id == 0;
    udp->global_id = frame.global_id;
    udp->stop = std::make_unique<Signal>(connection_.get_executor());
    if (frame.global_id) {
      if (core::PacketStreamPtr packets = xudp_.take(*frame.global_id)) {
        udp->packets = std::move(packets);
        log::info(udp->session.id, "{}: mux: xudp session to {} reattached", log_name_,
                  target.to_string());
      }
    }
    if (udp->packets == nullptr) {
      // Opened here, before the frame's datagram is passed on: the first datagram is
      // often the only one (a DNS query).
      auto opened = co_await dispatcher_.open_packets(udp->session);
      if (!opened) {
        log::info(udp->session.id, "{}: failed to open {}: {}", udp->session.outbound_tag,
                  target.to_string(), opened.error().message());
        co_await send_end(frame.session_id, true);
        co_return;
      }
      udp->packets = std::move(*opened);
    }
    if (auto old = udp_.find(frame.session_id); old != udp_.end()) {
      old->second->closed = true;
      old->second->packets->close();
    }
    udp_[frame.session_id] = udp;
    log::debug(parent_.id, "{}: mux: udp session {} (id {}) to {}", log_name_, udp->session.id,
               frame.session_id, target.to_string());
    spawn([this, udp]() { return serve_udp_downlink(udp); });
    co_return;
  }
  auto sub = std::make_shared<SubStream>(connection_, frame.session_id);
  if (auto old = tcp_.find(frame.session_id); old != tcp_.end()) old->second->abandon();
  tcp_[frame.session_id] = sub;
  core::Session session = child_session(target);
  spawn([this, sub, session = std::move(session)]() mutable {
    return serve_tcp(sub, std::move(session));
  });
}

awaitable<void> Server::run(std::span<const std::uint8_t> rest) {
  FrameReader in(connection_.stream(), rest);
  spawn([this]() { return watch_idle(); });
  for (;;) {
    std::optional<Frame> next = co_await in.next();
    if (!next) break;
    last_frame_ = std::chrono::steady_clock::now();
    const Frame frame = std::move(*next);
    const std::size_t data_size = frame.has_data() ? frame.data_size : 0;
    bool ok = true;
    switch (frame.status) {
      case Status::kNew:
        co_await handle_new(frame);
        [[fallthrough]];
      case Status::kKeep:
        if (auto udp = udp_.find(frame.session_id); udp != udp_.end()) {
          std::shared_ptr<UdpSession> held = udp->second;
          ok = data_size == 0 || co_await pass_datagram(in, *held, frame);
        } else if (auto tcp = tcp_.find(frame.session_id); tcp != tcp_.end()) {
          std::shared_ptr<SubStream> held = tcp->second;
          ok = co_await in.pass_data(held.get(), data_size);
        } else {
          // spec/mux.md §1: data for an unknown session is answered with End.
          ok = co_await in.skip(data_size);
          if (frame.status == Status::kKeep) co_await send_end(frame.session_id, false);
        }
        break;
      case Status::kEnd:
        if (auto udp = udp_.find(frame.session_id); udp != udp_.end()) {
          udp->second->closed = true;
          udp->second->packets->close();
          udp_.erase(udp);
        } else if (auto tcp = tcp_.find(frame.session_id); tcp != tcp_.end()) {
          tcp->second->end_from_peer();
          tcp_.erase(tcp);
        }
        ok = co_await in.skip(data_size);
        break;
      case Status::kKeepAlive:
        ok = co_await in.skip(data_size);
        break;
    }
    if (!ok) break;
  }
  const std::string ended_by(in.ended_by());
  if (in.bad_frame()) log::info(parent_.id, "{}: mux: {}", log_name_, ended_by);
  // The carrying stream is gone: end every session and wait for them.
  stopping_ = true;
  idle_timer_.cancel();
  connection_.close();
  for (auto& [id, sub] : tcp_) sub->close();
  for (auto& [id, udp] : udp_) {
    udp->parking = true;  // an XUDP session is parked, any other closed
    udp->stop->notify();
  }
  tcp_.clear();
  udp_.clear();
  while (live_ > 0) co_await done_.wait();
  log::debug(parent_.id, "{}: mux connection closed ({})", log_name_, ended_by);
}

}  // namespace

XudpTable::~XudpTable() {
  for (auto& [id, entry] : entries_) entry.packets->close();
}

void XudpTable::sweep() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now - it->second.parked_at >= kXudpParkTime) {
      it->second.packets->close();
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

core::PacketStreamPtr XudpTable::take(const GlobalId& id) {
  sweep();
  auto it = entries_.find(id);
  if (it == entries_.end()) return nullptr;
  core::PacketStreamPtr packets = std::move(it->second.packets);
  entries_.erase(it);
  return packets;
}

void XudpTable::park(const GlobalId& id, core::PacketStreamPtr packets) {
  sweep();
  if (auto old = entries_.find(id); old != entries_.end()) {
    old->second.packets->close();
    entries_.erase(old);
  }
  entries_.emplace(id, Entry{std::move(packets), std::chrono::steady_clock::now()});
}

awaitable<void> serve(core::Stream& stream, const core::Session& parent,
                      dispatch::Dispatcher& dispatcher, XudpTable& xudp,
                      std::span<const std::uint8_t> rest, std::string_view log_name) {
  // The server waits for its sessions before it returns: a cancelled connection (a worker
  // stop) must not unwind past them by throwing.
  co_await asio::this_coro::throw_if_cancelled(false);
  Server server(stream, parent, dispatcher, xudp, log_name);
  co_await server.run(rest);
}

}  // namespace xsup::worker::proxy::mux
