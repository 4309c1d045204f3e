#include "worker/runtime/server.h"

#include <sys/socket.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <stdexcept>

#include "shared/base/log.h"
#include "worker/core/tcp_stream.h"
#include "worker/dispatch/router_adapter.h"
#include "worker/transport/tcp/dialer.h"
#include "worker/transport/tls/context.h"

namespace xsup::worker::runtime {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// After accept fails for lack of fds or memory, wait before the next try instead of
// spinning (STYLE.md: what not to copy).
constexpr std::chrono::milliseconds kAcceptBackoff{100};
// A TLS handshake when the policy sets no handshake time (0).
constexpr std::chrono::seconds kDefaultTlsHandshake{16};

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
};

bool inbound_wants_udp(const config::InboundConfig& inbound) {
  if (const auto* socks = std::get_if<config::SocksInbound>(&inbound.settings)) return socks->udp;
  if (const auto* door = std::get_if<config::DokodemoInbound>(&inbound.settings)) return door->udp;
  if (const auto* ss = std::get_if<config::ShadowsocksInbound>(&inbound.settings)) return ss->udp;
  return false;
}

std::vector<BoundListener> bind_all(const config::Config& config) {
  std::vector<BoundListener> out;
  for (std::size_t i = 0; i < config.inbounds.size(); ++i) {
    const auto& ib = config.inbounds[i];
    auto ip = transport::listen_address(ib);
    if (!ip) throw std::runtime_error(ib.path + ".listen: \"" + ib.listen + "\" is not an IP");
    for (std::uint16_t port : transport::listen_ports(ib)) {
      auto where = [&](const char* net) {
        return ib.path + ": cannot listen on " + net + " " + ip->to_string() + ":" +
               std::to_string(port) + ": ";
      };
      BoundListener bound;
      bound.inbound = i;
      auto tcp = transport::bind_tcp(*ip, port, ib.stream.sockopt);
      if (!tcp) throw std::runtime_error(where("tcp") + tcp.error().message());
      bound.tcp = std::move(*tcp);
      if (inbound_wants_udp(ib)) {
        // Port 0 asked the kernel for a port: UDP takes the same one.
        std::uint16_t udp_port = transport::local_port(bound.tcp.get());
        auto udp = transport::bind_udp(*ip, udp_port, ib.stream.sockopt, false);
        if (!udp) throw std::runtime_error(where("udp") + udp.error().message());
        bound.udp = std::move(*udp);
      }
      out.push_back(std::move(bound));
    }
  }
  return out;
}

Server::Server(asio::io_context& io, const config::Config& config,
               std::vector<BoundListener> listeners)
    : io_(io), config_(config) {
  std::vector<std::unique_ptr<proxy::Outbound>> outbounds;
  for (const auto& ob : config.outbounds) outbounds.push_back(proxy::make_outbound(ob));
  dispatcher_ = std::make_unique<dispatch::Dispatcher>(config, std::move(outbounds),
                                                       dispatch::make_router(config));
  for (const auto& ib : config.inbounds) {
    contexts_.push_back(std::make_unique<proxy::InboundContext>(
        proxy::InboundContext{ib, config.policy, *dispatcher_}));
    inbounds_.push_back(proxy::make_inbound(*contexts_.back()));
  }
  for (auto& bound : listeners) {
    if (bound.inbound >= inbounds_.size()) throw std::runtime_error("listener for no inbound");
    const auto& ib = config.inbounds[bound.inbound];
    auto listener = std::make_unique<Listener>(
        Listener{inbounds_[bound.inbound].get(), &ib, asio::ip::tcp::acceptor(io_), nullptr});
    std::error_code ec;
    int tcp_fd = bound.tcp.get();
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ::getsockname(tcp_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    auto protocol = addr.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4();
    listener->acceptor.assign(protocol, bound.tcp.release(), ec);
    if (ec) throw std::runtime_error(ib.path + ": cannot adopt a listener: " + ec.message());
    if (bound.udp && listener->inbound->wants_udp()) {
      listener->udp = std::make_unique<asio::ip::udp::socket>(io_);
      auto uprotocol = addr.ss_family == AF_INET6 ? asio::ip::udp::v6() : asio::ip::udp::v4();
      listener->udp->assign(uprotocol, bound.udp.release(), ec);
      if (ec) throw std::runtime_error(ib.path + ": cannot adopt a listener: " + ec.message());
    }
    listeners_.push_back(std::move(listener));
  }
}

Server::~Server() = default;

void Server::start(bool announce) {
  for (auto& listener : listeners_) {
    auto local = listener->acceptor.local_endpoint();
    std::string where = local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                                : local.address().to_string();
    where += ":" + std::to_string(local.port());
    std::string tag = listener->config->tag.empty() ? "" : " [" + listener->config->tag + "]";
    if (announce) {
      log::write(log::Level::kWarning, 0,
                 fmt::format("{}{} listening on tcp {}", listener->config->protocol, tag, where));
    }
    asio::co_spawn(io_, accept_loop(*listener), [](std::exception_ptr e) {
      if (e) log::error(0, "accept loop ended by an exception");
    });
    if (listener->udp) {
      if (announce) {
        log::write(log::Level::kWarning, 0,
                   fmt::format("{}{} listening on udp {}", listener->config->protocol, tag, where));
      }
      asio::co_spawn(io_, listener->inbound->serve_udp(*listener->udp), [](std::exception_ptr e) {
        if (e) log::error(0, "udp loop ended by an exception");
      });
    }
  }
}

void Server::stop_accepting() {
  for (auto& listener : listeners_) {
    std::error_code ec;
    listener->acceptor.close(ec);
    if (listener->udp) listener->udp->close(ec);
  }
  dispatcher_->drain_outbounds();
}

void Server::stop() {
  stopping_ = true;
  stop_accepting();
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
    asio::co_spawn(
        io_, serve_connection(listener, std::move(stream), std::move(session)),
        asio::bind_cancellation_slot(slot->slot(), [this, id, slot](std::exception_ptr e) {
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

asio::awaitable<void> Server::serve_connection(Listener& listener,
                                               std::unique_ptr<core::TcpStream> tcp,
                                               core::Session session) {
  core::StreamPtr stream;
  if (listener.config->stream.security == config::SecurityKind::kTls) {
    // One place for every protocol: the inbound only ever sees the decrypted stream.
    const auto limit = session.policy.handshake > std::chrono::seconds::zero()
                           ? std::chrono::steady_clock::duration(session.policy.handshake)
                           : std::chrono::steady_clock::duration(kDefaultTlsHandshake);
    auto secured =
        co_await transport::tls::accept(std::move(tcp), *listener.config, limit, session);
    if (!secured) co_return;  // logged by accept
    stream = std::move(*secured);
  } else {
    stream = std::move(tcp);
  }
  co_await listener.inbound->serve(std::move(stream), std::move(session));
}

}  // namespace xsup::worker::runtime
