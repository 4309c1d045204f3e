#include "worker/proxy/dokodemo/dokodemo.h"

#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "shared/base/log.h"
#include "worker/core/tcp_stream.h"
#include "worker/dispatch/dispatcher.h"
#include "worker/dispatch/udp_sessions.h"

namespace xsup::worker::proxy::dokodemo {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// The largest UDP payload (RFC 768 over IPv4, 65535 - 8 - 20).
constexpr std::size_t kMaxDatagram = 65507;

// The destination an iptables REDIRECT rewrote (spec/sockopt.md: SO_ORIGINAL_DST).
std::optional<net::Destination> original_destination(int fd, bool v6) {
  if (v6) {
    sockaddr_in6 addr{};
    socklen_t len = sizeof addr;
    if (::getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &addr, &len) != 0) return std::nullopt;
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), &addr.sin6_addr, bytes.size());
    return net::Destination{net::Network::kTcp, net::Address(asio::ip::address_v6(bytes)),
                            ntohs(addr.sin6_port)};
  }
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &addr, &len) != 0) return std::nullopt;
  return net::Destination{net::Network::kTcp,
                          net::Address(asio::ip::address_v4(ntohl(addr.sin_addr.s_addr))),
                          ntohs(addr.sin_port)};
}

class Dokodemo final : public Inbound {
 public:
  explicit Dokodemo(const InboundContext& context)
      : context_(context), settings_(std::get<config::DokodemoInbound>(context.config.settings)) {}

  awaitable<void> serve(core::StreamPtr stream, core::Session session) override {
    if (!settings_.tcp) {
      log::info(session.id, "dokodemo-door: rejected: tcp is not enabled on this inbound");
      co_return;
    }
    session.level = settings_.user_level;
    session.policy = context_.policy.level(settings_.user_level);
    session.target = net::Destination{net::Network::kTcp, settings_.address, settings_.port};
    if (settings_.follow_redirect) {
      auto* tcp = dynamic_cast<core::TcpStream*>(stream.get());
      bool v6 = session.local.address.is_ip() && session.local.address.ip().is_v6();
      auto original = tcp ? original_destination(tcp->socket().native_handle(), v6) : std::nullopt;
      if (original) session.target = *original;
    }
    if (session.target.address.empty() || session.target.port == 0) {
      log::info(session.id, "dokodemo-door: rejected: no target address");
      co_return;
    }
    session.original_target = session.target;
    // A named argument, not a temporary: g++ 12 destroys class temporaries in a co_await
    // expression twice.
    core::Prefetch none;
    co_await context_.dispatcher.dispatch(session, *stream, std::move(none));
  }

  bool wants_udp() const override { return settings_.udp; }

  awaitable<void> serve_udp(asio::ip::udp::socket& socket) override {
    core::Session prototype;
    prototype.inbound_tag = context_.config.tag;
    prototype.inbound_protocol = "dokodemo-door";
    prototype.level = settings_.user_level;
    prototype.policy = context_.policy.level(settings_.user_level);
    prototype.sniffing = &context_.config.sniffing;
    std::error_code lec;
    auto local = socket.local_endpoint(lec);
    prototype.local =
        net::Destination{net::Network::kUdp, net::Address(local.address()), local.port()};
    net::Destination target{net::Network::kUdp, settings_.address, settings_.port};

    dispatch::UdpSessions sessions(
        context_.dispatcher, socket.get_executor(), prototype,
        [&socket](std::span<const std::uint8_t> payload, const net::Destination&,
                  const asio::ip::udp::endpoint& client) -> awaitable<void> {
          co_await socket.async_send_to(asio::buffer(payload.data(), payload.size()), client,
                                        kTuple);
        });
    auto buffer = std::make_unique<std::uint8_t[]>(kMaxDatagram);
    while (true) {
      asio::ip::udp::endpoint client;
      auto [ec, n] = co_await socket.async_receive_from(asio::buffer(buffer.get(), kMaxDatagram),
                                                        client, kTuple);
      if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) break;
      if (ec) continue;  // ICMP errors surface here; the socket lives on
      co_await sessions.send(client, target, std::span<const std::uint8_t>(buffer.get(), n));
    }
  }

 private:
  const InboundContext& context_;
  const config::DokodemoInbound& settings_;
};

}  // namespace

std::unique_ptr<Inbound> make_inbound(const InboundContext& context) {
  return std::make_unique<Dokodemo>(context);
}

}  // namespace xsup::worker::proxy::dokodemo
