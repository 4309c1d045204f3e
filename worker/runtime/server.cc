#include "worker/runtime/server.h"

#include <stdexcept>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "shared/base/log.h"
#include "worker/core/tcp_stream.h"
#include "worker/dispatch/router_adapter.h"
#include "worker/transport/tcp/dialer.h"

namespace xsup::worker::runtime {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// After accept fails for lack of fds or memory, wait before the next try instead of
// spinning (STYLE.md: what not to copy).
constexpr std::chrono::milliseconds kAcceptBackoff{100};

net::Destination to_destination(const asio::ip::tcp::endpoint& e, net::Network network) {
  auto ip = e.address();
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
    ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  }
  return net::Destination{network, net::Address(ip), e.port()};
}

}  // namespace

struct Server::Listener {
  proxy::Inbound* inbound;
  const config::InboundConfig* config;
  asio::ip::tcp::acceptor acceptor;
  std::unique_ptr<asio::ip::udp::socket> udp;
  std::uint16_t port;
};

Server::Server(asio::io_context& io, const config::Config& config) : io_(io), config_(config) {
  std::vector<std::unique_ptr<proxy::Outbound>> outbounds;
  for (const auto& ob : config.outbounds) outbounds.push_back(proxy::make_outbound(ob));
  dispatcher_ = std::make_unique<dispatch::Dispatcher>(config, std::move(outbounds),
                                                       dispatch::make_router(config));

  for (const auto& ib : config.inbounds) {
    contexts_.push_back(std::make_unique<proxy::InboundContext>(
        proxy::InboundContext{ib, config.policy, *dispatcher_}));
    inbounds_.push_back(proxy::make_inbound(*contexts_.back()));
    proxy::Inbound* inbound = inbounds_.back().get();

    std::error_code ec;
    auto listen_ip = ib.listen.empty() ? asio::ip::address(asio::ip::address_v4::any())
                                       : asio::ip::make_address(ib.listen, ec);
    if (ec) throw std::runtime_error(ib.path + ".listen: \"" + ib.listen + "\" is not an IP");
    for (const auto& range : ib.ports.ranges()) {
      for (unsigned port = range.from; port <= range.to; ++port) {
        asio::ip::tcp::endpoint endpoint(listen_ip, static_cast<std::uint16_t>(port));
        auto listener = std::make_unique<Listener>(
            Listener{inbound, &ib, asio::ip::tcp::acceptor(io_), nullptr, 0});
        auto& acceptor = listener->acceptor;
        acceptor.open(endpoint.protocol(), ec);
        if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) {
          transport::tcp::apply_sockopt(acceptor.native_handle(), true, listen_ip.is_v6(),
                                        ib.stream.sockopt, true);
          acceptor.bind(endpoint, ec);
        }
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
          throw std::runtime_error(ib.path + ": cannot listen on tcp " +
                                   endpoint.address().to_string() + ":" + std::to_string(port) +
                                   ": " + ec.message());
        }
        listener->port = acceptor.local_endpoint().port();
        if (inbound->wants_udp()) {
          asio::ip::udp::endpoint uendpoint(listen_ip, listener->port);
          listener->udp = std::make_unique<asio::ip::udp::socket>(io_);
          listener->udp->open(uendpoint.protocol(), ec);
          if (!ec) listener->udp->set_option(asio::socket_base::reuse_address(true), ec);
          if (!ec) listener->udp->bind(uendpoint, ec);
          if (ec) {
            throw std::runtime_error(ib.path + ": cannot listen on udp " +
                                     uendpoint.address().to_string() + ":" +
                                     std::to_string(listener->port) + ": " + ec.message());
          }
        }
        listeners_.push_back(std::move(listener));
      }
    }
  }
}

Server::~Server() = default;

void Server::start() {
  for (auto& listener : listeners_) {
    auto local = listener->acceptor.local_endpoint();
    std::string where = local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                                : local.address().to_string();
    where += ":" + std::to_string(local.port());
    std::string tag = listener->config->tag.empty() ? "" : " [" + listener->config->tag + "]";
    log::write(log::Level::kWarning, 0,
               fmt::format("{}{} listening on tcp {}", listener->config->protocol, tag, where));
    asio::co_spawn(io_, accept_loop(*listener), [](std::exception_ptr e) {
      if (e) log::error(0, "accept loop ended by an exception");
    });
    if (listener->udp) {
      log::write(log::Level::kWarning, 0,
                 fmt::format("{}{} listening on udp {}", listener->config->protocol, tag, where));
      asio::co_spawn(io_, listener->inbound->serve_udp(*listener->udp), [](std::exception_ptr e) {
        if (e) log::error(0, "udp loop ended by an exception");
      });
    }
  }
}

void Server::stop() {
  stopping_ = true;
  for (auto& listener : listeners_) {
    std::error_code ec;
    listener->acceptor.close(ec);
    if (listener->udp) listener->udp->close(ec);
  }
  for (auto& signal : live_) signal.emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> Server::accept_loop(Listener& listener) {
  asio::steady_timer backoff(io_);
  while (listener.acceptor.is_open()) {
    auto [ec, socket] = co_await listener.acceptor.async_accept(kTuple);
    if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
    if (ec) {
      log::warning(0, "{}: accept failed: {}", listener.config->path, ec.message());
      backoff.expires_after(kAcceptBackoff);
      co_await backoff.async_wait(kTuple);
      continue;
    }
    core::Session session;
    session.id = core::Session::next_id();
    session.inbound_tag = listener.config->tag;
    session.inbound_protocol = listener.config->protocol;
    std::error_code eec;
    session.source = to_destination(socket.remote_endpoint(eec), net::Network::kTcp);
    session.local = to_destination(socket.local_endpoint(eec), net::Network::kTcp);
    session.sniffing = &listener.config->sniffing;
    session.policy = config_.policy.level(0);
    log::debug(session.id, "{}: accepted from {}", listener.config->protocol,
               session.source.host_port());
    auto stream = std::make_unique<core::TcpStream>(std::move(socket));
    std::uint64_t id = session.id;
    auto slot = live_.emplace(live_.end());
    asio::co_spawn(io_, listener.inbound->serve(std::move(stream), std::move(session)),
                   asio::bind_cancellation_slot(
                       slot->slot(), [this, id, slot](std::exception_ptr e) {
                         live_.erase(slot);
                         if (!e || stopping_) return;  // a cancelled connection unwinds by throwing
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           log::error(id, "connection ended by an exception: {}", ex.what());
                         }
                       }));
  }
}

}  // namespace xsup::worker::runtime
