#include "worker/proxy/shadowsocks/outbound.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/udp.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstring>
#include <vector>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/tcp_stream.h"
#include "worker/proxy/shadowsocks/codec.h"
#include "worker/proxy/shadowsocks/codec2022.h"
#include "worker/proxy/shadowsocks/shadowsocks.h"
#include "worker/proxy/shadowsocks/stream.h"
#include "worker/transport/dial.h"
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
    if (!payload.empty()) std::memcpy(out + m.salt_size + header, payload.data(), payload.size());
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

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<Key> psk_chain(const config::ShadowsocksUser& user) {
  std::vector<Key> out;
  for (const auto& psk : user.psks) {
    Key k{};
    std::memcpy(k.data(), psk.data(), std::min(psk.size(), k.size()));
    out.push_back(k);
  }
  return out;
}

std::uint16_t random_u16() {
  std::uint16_t v = 0;
  random_bytes({reinterpret_cast<std::uint8_t*>(&v), sizeof v});
  return v;
}

// Shadowsocks 2022 datagrams (B.4): our session id and a packet counter; the server's
// replies carry its own session, checked against a replay window (the current and the
// previous server session are kept).
class Shadowsocks2022PacketStream final : public core::PacketStream {
 public:
  Shadowsocks2022PacketStream(asio::ip::udp::socket socket, Method method, std::vector<Key> psks)
      : socket_(std::move(socket)), method_(method), psks_(std::move(psks)) {
    random_bytes({reinterpret_cast<std::uint8_t*>(&session_id_), sizeof session_id_});
    if (method_ != Method::k2022Chacha20Poly1305) {
      key_ = udp_session_key(method_, user_psk(), session_id_);
    }
  }
  ~Shadowsocks2022PacketStream() override { close(); }

  asio::any_io_executor get_executor() override { return socket_.get_executor(); }

  awaitable<core::PacketResult> receive(asio::mutable_buffer buffer) override {
    auto* data = static_cast<std::uint8_t*>(buffer.data());
    const std::size_t key_size = info(method_).key_size;
    for (;;) {
      auto [ec, n] = co_await socket_.async_receive(buffer, kTuple);
      if (ec) co_return core::PacketResult{ec, 0, {}};
      std::span<std::uint8_t> packet(data, n);
      UdpPacketHeader header;
      std::span<std::uint8_t> body;
      if (method_ == Method::k2022Chacha20Poly1305) {
        auto opened = open_udp_chacha(user_psk(), packet, header);
        if (!opened) continue;
        body = *opened;
      } else {
        const std::size_t prefix = udp_prefix_size(method_, 0);
        if (n < prefix + kTagSize) continue;
        std::uint8_t plain[kSeparateHeaderSize];
        if (!open_udp_separate_header(user_psk(), data, plain, header)) continue;
        Server* server = find_server(header.session_id);
        const Key key = server != nullptr ? server->key
                                          : udp_session_key(method_, user_psk(), header.session_id);
        auto opened = open_udp_body(method_, {key.data(), key_size}, plain, packet.subspan(prefix));
        if (!opened) continue;
        body = *opened;
      }
      auto main = parse_udp_main_header(body, kTypeServer, unix_now());
      if (!main || main->client_session_id != session_id_) continue;
      if (!accept_server_packet(header)) continue;
      const std::size_t size = body.size() - main->payload_offset;
      std::memmove(data, body.data() + main->payload_offset, size);
      co_return core::PacketResult{{}, size, std::move(main->address)};
    }
  }

  awaitable<std::error_code> send(std::span<const std::uint8_t> payload,
                                  const net::Destination& to) override {
    const MethodInfo& m = info(method_);
    const std::size_t identities = method_ == Method::k2022Chacha20Poly1305 ? 0 : psks_.size() - 1;
    const std::size_t prefix = udp_prefix_size(method_, identities);
    // B.4: sing pads DNS queries shorter than 900 bytes.
    std::size_t padding = 0;
    if (to.port == 53 && payload.size() < kMaxPadding) {
      padding = 1 + random_u16() % (kMaxPadding - payload.size());
    }
    const std::size_t header = 1 + 8 + 2 + padding + address_size(to.address);
    const std::size_t size = prefix + header + payload.size() + kTagSize;
    core::Buffer pooled;
    std::unique_ptr<std::uint8_t[]> large;
    std::uint8_t* out = nullptr;
    if (size <= core::BufferPool::kBufferSize) {
      pooled = core::BufferPool::local().acquire();
      out = pooled.data();
    } else {
      large = std::make_unique<std::uint8_t[]>(size);
      out = large.get();
    }
    const std::size_t h =
        encode_udp_main_header(kTypeClient, static_cast<std::uint64_t>(unix_now()), 0, padding, to,
                               {out + prefix, header});
    if (h == 0) co_return base::make_error_code(Errc::kProtocol);
    if (!payload.empty()) std::memcpy(out + prefix + h, payload.data(), payload.size());
    const UdpPacketHeader sep{session_id_, packet_id_++};
    const std::size_t sealed = seal_udp_packet(method_, psks_, {key_.data(), m.key_size}, sep,
                                               {out, size}, h + payload.size());
    if (sealed == 0) co_return base::make_error_code(Errc::kProtocol);
    auto [ec, n] = co_await socket_.async_send(asio::buffer(out, sealed), kTuple);
    co_return ec;
  }

  void close() override {
    std::error_code ec;
    socket_.close(ec);
  }

 private:
  struct Server {
    std::uint64_t session_id = 0;
    Key key{};
    PacketWindow window;
  };

  std::span<const std::uint8_t> user_psk() const {
    return {psks_.back().data(), info(method_).key_size};
  }

  Server* find_server(std::uint64_t id) {
    for (auto& s : servers_) {
      if (s && s->session_id == id) return s.get();
    }
    return nullptr;
  }

  // B.4: packets of a known server session pass its replay window; a new server session
  // becomes the current one and the current one the previous.
  bool accept_server_packet(const UdpPacketHeader& header) {
    Server* server = find_server(header.session_id);
    if (server == nullptr) {
      auto fresh = std::make_unique<Server>();
      fresh->session_id = header.session_id;
      if (method_ != Method::k2022Chacha20Poly1305) {
        fresh->key = udp_session_key(method_, user_psk(), header.session_id);
      }
      servers_[1] = std::move(servers_[0]);
      servers_[0] = std::move(fresh);
      server = servers_[0].get();
    }
    return server->window.accept(header.packet_id);
  }

  asio::ip::udp::socket socket_;
  Method method_;
  std::vector<Key> psks_;
  std::uint64_t session_id_ = 0;
  std::uint64_t packet_id_ = 0;
  Key key_{};
  std::array<std::unique_ptr<Server>, 2> servers_;  // current, previous
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
  if (is_2022(method)) co_return co_await connect_2022(session);
  const Key key = password_key(server.user.password, info(method).key_size);

  std::array<std::uint8_t, kMaxAddressSize> header{};
  const std::size_t header_size =
      encode_address(session.target.address, session.target.port, header);
  if (header_size == 0) co_return Error(Errc::kProtocol, "target address cannot be encoded");

  auto dialled = co_await transport::dial_stream(config_, server.address, session);
  if (!dialled) co_return dialled.error();

  auto stream = std::make_unique<AeadStream>(
      std::move(*dialled), method, std::span<const std::uint8_t>(key.data(), info(method).key_size),
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
  const Key key =
      is_2022(method) ? Key{} : password_key(server.user.password, info(method).key_size);

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
  if (is_2022(method)) {
    co_return core::PacketStreamPtr(std::make_unique<Shadowsocks2022PacketStream>(
        std::move(socket), method, psk_chain(server.user)));
  }
  co_return core::PacketStreamPtr(
      std::make_unique<ShadowsocksPacketStream>(std::move(socket), method, key));
}

awaitable<Expected<core::StreamPtr>> ShadowsocksOutbound::connect_2022(core::Session& session) {
  const config::ShadowsocksServer& server = settings_.servers.front();
  const Method method = parse_method(server.user.method).value_or(Method::k2022Aes128Gcm);
  const MethodInfo& m = info(method);
  const std::vector<Key> psks = psk_chain(server.user);
  if (psks.empty()) co_return Error(Errc::kProtocol, "no PSK");
  const std::span<const std::uint8_t> user_psk(psks.back().data(), m.key_size);

  auto dialled = co_await transport::dial_stream(config_, server.address, session);
  if (!dialled) co_return dialled.error();

  // B.2: salt, identity headers, fixed and variable headers in one write. The first
  // payload is not known yet: the variable header carries padding instead.
  core::Buffer out = core::BufferPool::local().acquire();
  std::array<std::uint8_t, kMaxSaltSize> salt{};
  random_bytes({salt.data(), m.salt_size});
  std::memcpy(out.data(), salt.data(), m.salt_size);
  std::size_t pos = m.salt_size;
  if (psks.size() > 1) {
    const std::size_t n = encode_tcp_identity(psks, m.key_size, {salt.data(), m.salt_size},
                                              {out.data() + pos, out.capacity() - pos});
    if (n == 0) co_return Error(Errc::kProtocol, "identity header");
    pos += n;
  }
  const Key session_key = derive_session_key(method, user_psk, {salt.data(), m.salt_size});
  auto sealer =
      std::make_unique<Aead>(method, std::span<const std::uint8_t>(session_key.data(), m.key_size),
                             Aead::Direction::kSeal);
  const std::size_t padding = 1 + random_u16() % kMaxPadding;
  const std::size_t n =
      seal_request_headers(*sealer, static_cast<std::uint64_t>(unix_now()), session.target, padding,
                           {}, {out.data() + pos, out.capacity() - pos});
  if (n == 0) co_return Error(Errc::kProtocol, "target address cannot be encoded");
  pos += n;

  AeadStream::Options stream_options;
  stream_options.method = method;
  stream_options.key = user_psk;
  stream_options.sealer = std::move(sealer);
  stream_options.request_salt = {salt.data(), m.salt_size};
  auto stream = std::make_unique<AeadStream>(std::move(*dialled), std::move(stream_options));
  if (auto ec = co_await stream->write_raw(asio::buffer(out.data(), pos)); ec) {
    co_return Error(ec, "Shadowsocks server write failed");
  }
  co_return core::StreamPtr(std::move(stream));
}

}  // namespace xsup::worker::proxy::shadowsocks
