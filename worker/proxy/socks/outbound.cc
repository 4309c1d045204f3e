#include "worker/proxy/socks/outbound.h"

#include <array>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/udp.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>
#include <vector>

#include "shared/base/log.h"
#include "worker/core/deadline.h"
#include "worker/core/tcp_stream.h"
#include "worker/proxy/socks/codec.h"
#include "worker/proxy/socks/handshake_reader.h"
#include "worker/proxy/socks/socks.h"
#include "worker/transport/dial.h"
#include "worker/transport/tcp/dialer.h"

namespace xsup::worker::proxy::socks {
namespace {

using base::Errc;
using base::Error;

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

template <std::size_t N>
asio::const_buffer as_buffer(const Bytes<N>& bytes) {
  return asio::buffer(bytes.data.data(), bytes.size);
}

// Datagrams through a SOCKS5 UDP relay (RFC 1928 §7): each one carries the header naming
// its destination (sent) or its source (received). The control connection holds the
// association; closing the packet stream closes it.
class SocksPacketStream final : public core::PacketStream {
 public:
  SocksPacketStream(core::StreamPtr control, asio::ip::udp::socket socket)
      : control_(std::move(control)), socket_(std::move(socket)) {}
  ~SocksPacketStream() override { close(); }

  asio::any_io_executor get_executor() override { return socket_.get_executor(); }

  awaitable<core::PacketResult> receive(asio::mutable_buffer buffer) override {
    auto* data = static_cast<std::uint8_t*>(buffer.data());
    for (;;) {
      auto [ec, n] = co_await socket_.async_receive(buffer, kTuple);
      if (ec) co_return core::PacketResult{ec, 0, {}};
      auto header = parse_udp_header({data, n});
      if (!header) continue;  // a fragment or garbage: dropped, as Xray does
      const std::size_t size = n - header->consumed;
      std::memmove(data, data + header->consumed, size);
      co_return core::PacketResult{{}, size, std::move(header->value)};
    }
  }

  awaitable<std::error_code> send(std::span<const std::uint8_t> payload,
                                  const net::Destination& to) override {
    std::array<std::uint8_t, kMaxUdpHeaderSize> header;
    const std::size_t size = encode_udp_header(to.address, to.port, header);
    if (size == 0) co_return base::make_error_code(Errc::kProtocol);
    const std::array<asio::const_buffer, 2> datagram{asio::buffer(header.data(), size),
                                                     asio::buffer(payload.data(), payload.size())};
    auto [ec, n] = co_await socket_.async_send(datagram, kTuple);
    co_return ec;
  }

  void close() override {
    std::error_code ec;
    socket_.close(ec);
    control_->close();
  }

 private:
  core::StreamPtr control_;
  asio::ip::udp::socket socket_;
};

}  // namespace

struct SocksOutbound::Handshake {
  core::StreamPtr stream;
  ServerReply reply;
  std::vector<std::uint8_t> leftover;  // bytes the server sent past its reply (rare)
};

SocksOutbound::SocksOutbound(const config::OutboundConfig& config)
    : Outbound(config), settings_(std::get<config::SocksOutbound>(config.settings)) {}

std::unique_ptr<Outbound> make_socks_outbound(const config::OutboundConfig& config) {
  return std::make_unique<SocksOutbound>(config);
}

awaitable<Expected<SocksOutbound::Handshake>> SocksOutbound::handshake(
    core::Session& session, std::uint8_t command, const net::Destination& target) {
  if (settings_.servers.empty()) co_return Error(Errc::kNoRoute, "no SOCKS server configured");
  const config::ProxyServer& server = settings_.servers.front();
  const config::Account* account = server.users.empty() ? nullptr : &server.users.front();

  auto request = encode_request(static_cast<Command>(command), target.address, target.port);
  if (!request) co_return request.error();

  auto dialled = co_await transport::dial_stream(config_, server.address, session);
  if (!dialled) co_return dialled.error();

  Handshake out;
  out.stream = std::move(*dialled);
  core::Stream& stream = *out.stream;
  const auto limit = session.policy.handshake > std::chrono::seconds::zero()
                         ? std::chrono::steady_clock::duration(session.policy.handshake)
                         : std::chrono::steady_clock::duration(kDefaultHandshake);
  core::Deadline deadline(stream, limit);
  // The server's messages are a few bytes each; the longest is a reply with a domain.
  std::array<std::uint8_t, 2 * kMaxUdpHeaderSize> storage;
  HandshakeReader reader{storage};

  auto timed_out = [&](const Error& error) {
    return deadline.expired() ? Error(Errc::kTimeout, "SOCKS handshake timeout") : error;
  };

  // RFC 1928 §3. The credentials wait for the method choice: some servers (microsocks)
  // drop a greeting pipelined with them.
  const std::uint8_t method = account != nullptr ? kMethodPassword : kMethodNoAuth;
  const auto greeting = encode_greeting(method);
  if (auto ec = co_await stream.write_all(as_buffer(greeting)); ec) {
    co_return timed_out(Error(ec, "SOCKS server write failed"));
  }
  auto chosen = co_await reader.next(stream, parse_method_choice);
  if (!chosen) co_return timed_out(chosen.error());
  if (*chosen != method) {
    co_return Error(Errc::kAuthFailed, "SOCKS server accepts none of our methods");
  }

  if (account != nullptr) {
    // RFC 1929 §2.
    auto credentials = encode_credentials(account->user, account->pass);
    if (!credentials) co_return credentials.error();
    if (auto ec = co_await stream.write_all(as_buffer(*credentials)); ec) {
      co_return timed_out(Error(ec, "SOCKS server write failed"));
    }
    auto status = co_await reader.next(stream, parse_auth_status);
    if (!status) co_return timed_out(status.error());
    if (*status != 0) co_return Error(Errc::kAuthFailed, "SOCKS server refused the credentials");
  }

  // RFC 1928 §4, §6.
  if (auto ec = co_await stream.write_all(as_buffer(*request)); ec) {
    co_return timed_out(Error(ec, "SOCKS server write failed"));
  }
  auto reply = co_await reader.next(stream, parse_reply);
  if (!reply) co_return timed_out(reply.error());
  if (reply->reply != Reply::kSucceeded) {
    log::info(session.id, "socks: server {} refused {}: {}", server.address.host_port(),
              target.host_port(), to_string(reply->reply));
    co_return Error(Errc::kProtocol, to_string(reply->reply));
  }
  deadline.cancel();
  if (deadline.expired()) co_return Error(Errc::kTimeout, "SOCKS handshake timeout");

  out.reply = std::move(*reply);
  auto rest = reader.unparsed();
  out.leftover.assign(rest.begin(), rest.end());
  co_return out;
}

awaitable<Expected<core::StreamPtr>> SocksOutbound::connect(core::Session& session) {
  auto done =
      co_await handshake(session, static_cast<std::uint8_t>(Command::kConnect), session.target);
  if (!done) co_return done.error();
  if (done->leftover.empty()) co_return core::StreamPtr(std::move(done->stream));
  // A server-speaks-first protocol may have sent bytes in the reply's segment.
  co_return core::StreamPtr(
      std::make_unique<core::PrefixedStream>(std::move(done->stream), done->leftover));
}

awaitable<Expected<core::PacketStreamPtr>> SocksOutbound::open_packets(core::Session& session) {
  // RFC 1928 §7: the client may not know the address it will send from; all zeros.
  net::Destination any{net::Network::kTcp,
                       net::Address(asio::ip::address(asio::ip::address_v4::any())), 0};
  auto done = co_await handshake(session, static_cast<std::uint8_t>(Command::kUdpAssociate), any);
  if (!done) co_return done.error();

  // The relay's address: an unspecified BND.ADDR means the server's own address.
  // (The control stream may be TLS: the server's address comes from the config.)
  std::error_code ec;
  const net::Address& bound = done->reply.address;
  const net::Address& relay_host = bound.is_ip() && bound.ip().is_unspecified()
                                       ? settings_.servers.front().address.address
                                       : bound;
  asio::ip::address relay_ip;
  if (relay_host.is_ip()) {
    relay_ip = relay_host.ip();
  } else {
    auto resolved =
        co_await transport::tcp::resolve(relay_host, config_.stream.sockopt.domain_strategy);
    if (!resolved) co_return resolved.error();
    if (resolved->empty()) co_return Error(Errc::kResolveFailed, "SOCKS UDP relay has no address");
    relay_ip = resolved->front();
  }
  asio::ip::udp::endpoint relay(relay_ip, done->reply.port);

  asio::ip::udp::socket socket(done->stream->get_executor());
  socket.open(relay.protocol(), ec);
  if (ec) co_return Error(ec, "UDP socket");
  transport::tcp::apply_sockopt(socket.native_handle(), false, relay.address().is_v6(),
                                config_.stream.sockopt, false);
  socket.connect(relay, ec);  // a UDP connect only fixes the peer: it does not block
  if (ec) co_return Error(ec, "UDP connect to the SOCKS relay");
  co_return core::PacketStreamPtr(
      std::make_unique<SocksPacketStream>(std::move(done->stream), std::move(socket)));
}

}  // namespace xsup::worker::proxy::socks
