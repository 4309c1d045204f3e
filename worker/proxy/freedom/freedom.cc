#include "worker/proxy/freedom/freedom.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/udp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <unordered_map>

#include "shared/base/log.h"
#include "worker/core/tcp_stream.h"
#include "worker/transport/tcp/dialer.h"

namespace xsup::worker::proxy::freedom {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Resolved names kept per UDP session, so a DNS-heavy flow does not resolve per packet.
constexpr std::size_t kMaxResolvedNames = 64;

// The target after `redirect`: its address and port replace the target's when given.
net::Destination redirected(const config::FreedomOutbound& settings, net::Destination target) {
  if (settings.redirect) {
    if (!settings.redirect->address.empty()) target.address = settings.redirect->address;
    if (settings.redirect->port != 0) target.port = settings.redirect->port;
  }
  return target;
}

// One unconnected UDP socket for one UDP session: sends anywhere, receives from anywhere.
class UdpStream final : public core::PacketStream {
 public:
  UdpStream(asio::ip::udp::socket socket, const config::FreedomOutbound& settings)
      : socket_(std::move(socket)), settings_(settings) {}

  asio::any_io_executor get_executor() override { return socket_.get_executor(); }

  awaitable<core::PacketResult> receive(asio::mutable_buffer buffer) override {
    asio::ip::udp::endpoint from;
    auto [ec, n] = co_await socket_.async_receive_from(buffer, from, kTuple);
    core::PacketResult r{ec, n, {}};
    r.peer.network = net::Network::kUdp;
    auto ip = from.address();
    if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
      ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
    }
    r.peer.address = net::Address(ip);
    r.peer.port = from.port();
    co_return r;
  }

  awaitable<std::error_code> send(std::span<const std::uint8_t> payload,
                                  const net::Destination& raw_to) override {
    net::Destination to = redirected(settings_, raw_to);
    asio::ip::address ip;
    if (to.address.is_ip()) {
      ip = to.address.ip();
    } else {
      auto it = resolved_.find(to.address.domain());
      if (it != resolved_.end()) {
        ip = it->second;
      } else {
        auto addresses = co_await transport::tcp::resolve(to.address, settings_.domain_strategy);
        if (!addresses) co_return addresses.error().code;
        ip = addresses->front();
        if (resolved_.size() < kMaxResolvedNames) resolved_.emplace(to.address.domain(), ip);
      }
    }
    if (ip.is_v4()) ip = asio::ip::make_address_v6(asio::ip::v4_mapped, ip.to_v4());
    auto [ec, n] = co_await socket_.async_send_to(asio::buffer(payload.data(), payload.size()),
                                                  asio::ip::udp::endpoint(ip, to.port), kTuple);
    co_return ec;
  }

  void close() override {
    std::error_code ec;
    socket_.close(ec);
  }

 private:
  asio::ip::udp::socket socket_;
  const config::FreedomOutbound& settings_;
  std::unordered_map<std::string, asio::ip::address> resolved_;
};

class Freedom final : public Outbound {
 public:
  explicit Freedom(const config::OutboundConfig& config)
      : Outbound(config), settings_(std::get<config::FreedomOutbound>(config.settings)) {}

  awaitable<Expected<core::StreamPtr>> connect(core::Session& session) override {
    transport::tcp::DialOptions options;
    options.sockopt = &config_.stream.sockopt;
    options.send_through = config_.send_through;
    options.domain_strategy = settings_.domain_strategy;
    if (options.domain_strategy == config::DomainStrategy::kAsIs) {
      options.domain_strategy = config_.stream.sockopt.domain_strategy;
    }
    auto socket = co_await transport::tcp::dial(redirected(settings_, session.target), options);
    if (!socket) co_return socket.error();
    co_return core::StreamPtr(std::make_unique<core::TcpStream>(std::move(*socket)));
  }

  awaitable<Expected<core::PacketStreamPtr>> open_packets(core::Session& /*session*/) override {
    auto executor = co_await asio::this_coro::executor;
    asio::ip::udp::socket socket(executor);
    std::error_code ec;
    socket.open(asio::ip::udp::v6(), ec);
    if (!ec) socket.set_option(asio::ip::v6_only(false), ec);
    if (!ec) {
      transport::tcp::apply_sockopt(socket.native_handle(), false, true, config_.stream.sockopt,
                                    false);
      socket.bind(asio::ip::udp::endpoint(asio::ip::address_v6::any(), 0), ec);
    }
    if (ec) co_return base::Error(ec, "udp socket");
    co_return core::PacketStreamPtr(std::make_unique<UdpStream>(std::move(socket), settings_));
  }

 private:
  const config::FreedomOutbound& settings_;
};

}  // namespace

std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config) {
  return std::make_unique<Freedom>(config);
}

}  // namespace xsup::worker::proxy::freedom
