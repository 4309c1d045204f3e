#include "worker/proxy/shadowsocks/outbound.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/udp.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/tcp_stream.h"
#include "worker/proxy/shadowsocks/codec.h"
#include "worker/proxy/shadowsocks/shadowsocks.h"
#include "worker/proxy/shadowsocks/stream.h"
#include "worker/transport/tcp/dialer.h"

namespace xsup::worker::proxy::shadowsocks {
namespace {

using base::Errc;
using base::Error;

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// A.4 datagrams to one server: each carries the destination (sent) or the source
// (received) in front of its payload, inside the AEAD.
class ShadowsocksPacketStream final : public core::PacketStream {
 public:
  ShadowsocksPacketStream(asio::ip::udp::socket socket, Method method, const Key& key)
      : socket_(std::move(socket)), method_(method), key_(key) {}
  ~ShadowsocksPacketStream() override { close(); }

  asio::any_io_executor get_executor() override { return socket_.get_executor(); }

  awaitable<core::PacketResult> receive(asio::mutable_buffer buffer) override {
    auto* data = static_cast<std::uint8_t*>(buffer.data());
    const std::span<const std::uint8_t> key(key_.data(), info(method_).key_size);
    for (;;) {
      auto [ec, n] = co_await socket_.async_receive(buffer, kTuple);
      if (ec) co_return core::PacketResult{ec, 0, {}};
      auto opened = open_packet(method_, key, {data, n}, {data, buffer.size()});
      if (!opened) continue;  // not from our server, or damaged: dropped
      auto source = parse_address(*opened, net::Network::kUdp);
      if (!source) continue;
      const std::size_t size = opened->size() - source->consumed;
      std::memmove(data, opened->data() + source->consumed, size);
      co_return core::PacketResult{{}, size, std::move(source->value)};
    }
  }

  awaitable<std::error_code> send(std::span<const std::uint8_t> payload,
                                  const net::Destination& to) override {
    const MethodInfo& m = info(method_);
    const std::size_t header = address_size(to.address);
    if (header == 0) co_return base::make_error_code(Errc::kProtocol);
    const std::size_t size = m.salt_size + header + payload.size() + kTagSize;
    core::Buffer pooled;
    std::unique_ptr<std::uint8_t[]> large;  // a datagram over a pooled buffer: rare
    std::uint8_t* out = nullptr;
    if (size <= core::BufferPool::kBufferSize) {
      pooled = core::BufferPool::local().acquire();
      out = pooled.data();
    } else {
      large = std::make_unique<std::uint8_t[]>(size);
      out = large.get();
    }
    encode_address(to.address, to.port, {out + m.salt_size, header});
    std::memcpy(out + m.salt_size + header, payload.data(), payload.size());
    const std::size_t sealed =
        seal_packet(method_, {key_.data(), m.key_size}, {out, size}, header + payload.size());
    if (sealed == 0) co_return base::make_error_code(Errc::kProtocol);
    auto [ec, n] = co_await socket_.async_send(asio::buffer(out, sealed), kTuple);
    co_return ec;
  }

  void close() override {
    std::error_code ec;
    socket_.close(ec);
  }

 private:
  asio::ip::udp::socket socket_;
  Method method_;
  Key key_;
};

}  // namespace

ShadowsocksOutbound::ShadowsocksOutbound(const config::OutboundConfig& config)
    : Outbound(config), settings_(std::get<config::ShadowsocksOutbound>(config.settings)) {}

std::unique_ptr<Outbound> make_outbound(const config::OutboundConfig& config) {
  return std::make_unique<ShadowsocksOutbound>(config);
}

awaitable<Expected<core::StreamPtr>> ShadowsocksOutbound::connect(core::Session& session) {
  if (settings_.servers.empty()) co_return Error(Errc::kNoRoute, "no Shadowsocks server");
  const config::ShadowsocksServer& server = settings_.servers.front();
  const Method method = parse_method(server.user.method).value_or(Method::kAes128Gcm);
  const Key key = password_key(server.user.password, info(method).key_size);

  std::array<std::uint8_t, kMaxAddressSize> header{};
  const std::size_t header_size =
      encode_address(session.target.address, session.target.port, header);
  if (header_size == 0) co_return Error(Errc::kProtocol, "target address cannot be encoded");

  transport::tcp::DialOptions options;
  options.sockopt = &config_.stream.sockopt;
  options.send_through = config_.send_through;
  options.domain_strategy = config_.stream.sockopt.domain_strategy;
  auto socket = co_await transport::tcp::dial(server.address, options);
  if (!socket) co_return socket.error();

  auto stream =
      std::make_unique<AeadStream>(std::make_unique<core::TcpStream>(std::move(*socket)), method,
                                   std::span<const std::uint8_t>(key.data(), info(method).key_size),
                                   std::span<const std::uint8_t>{});
  // The address goes out at once, in a chunk of its own (as Xray's client does when no
  // data follows within its wait): a server-speaks-first protocol needs it there.
  if (auto ec = co_await stream->write_all(asio::buffer(header.data(), header_size)); ec) {
    co_return Error(ec, "Shadowsocks server write failed");
  }
  co_return core::StreamPtr(std::move(stream));
}

awaitable<Expected<core::PacketStreamPtr>> ShadowsocksOutbound::open_packets(
    core::Session& session) {
  if (settings_.servers.empty()) co_return Error(Errc::kNoRoute, "no Shadowsocks server");
  const config::ShadowsocksServer& server = settings_.servers.front();
  const Method method = parse_method(server.user.method).value_or(Method::kAes128Gcm);
  const Key key = password_key(server.user.password, info(method).key_size);

  auto resolved = co_await transport::tcp::resolve(server.address.address,
                                                   config_.stream.sockopt.domain_strategy);
  if (!resolved) co_return resolved.error();
  if (resolved->empty()) co_return Error(Errc::kResolveFailed, "Shadowsocks server has no address");
  const asio::ip::udp::endpoint endpoint(resolved->front(), server.address.port);

  auto executor = co_await asio::this_coro::executor;
  asio::ip::udp::socket socket(executor);
  std::error_code ec;
  socket.open(endpoint.protocol(), ec);
  if (ec) co_return Error(ec, "UDP socket");
  transport::tcp::apply_sockopt(socket.native_handle(), false, endpoint.address().is_v6(),
                                config_.stream.sockopt, false);
  socket.connect(endpoint, ec);  // a UDP connect only fixes the peer: it does not block
  if (ec) co_return Error(ec, "UDP connect to the Shadowsocks server");
  log::debug(session.id, "shadowsocks: udp via {}", server.address.host_port());
  co_return core::PacketStreamPtr(
      std::make_unique<ShadowsocksPacketStream>(std::move(socket), method, key));
}

}  // namespace xsup::worker::proxy::shadowsocks
