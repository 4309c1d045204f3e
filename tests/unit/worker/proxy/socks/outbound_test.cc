// SocksOutbound against a scripted SOCKS5 server on loopback: what the client sends, in
// which order, and what it makes of the answers.

#include "worker/proxy/socks/outbound.h"

#include <gtest/gtest.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "worker/proxy/socks/codec.h"

namespace xsup::worker::proxy::socks {
namespace {

using asio::ip::tcp;
using Bytes8 = std::vector<std::uint8_t>;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// Completion of the scripted server: an exception ends io.run() and so the test.
void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

Bytes8 bytes(std::initializer_list<int> values) {
  Bytes8 out;
  for (int v : values) out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

// Reads exactly n bytes, or returns what arrived before the peer closed.
awaitable<Bytes8> read_n(tcp::socket& socket, std::size_t n) {
  Bytes8 out(n);
  auto [ec, got] = co_await asio::async_read(socket, asio::buffer(out), kTuple);
  out.resize(got);
  co_return out;
}

awaitable<void> write_bytes(tcp::socket& socket, Bytes8 data) {
  co_await asio::async_write(socket, asio::buffer(data), kTuple);
}

config::OutboundConfig make_config(std::uint16_t port, bool with_user) {
  config::OutboundConfig c;
  c.tag = "up";
  c.protocol = "socks";
  config::SocksOutbound s;
  config::ProxyServer server;
  server.address = {net::Network::kTcp, net::Address::parse("127.0.0.1"), port};
  if (with_user) server.users.push_back({"alice", "secret", 0, "alice"});
  s.servers.push_back(server);
  c.settings = s;
  return c;
}

struct Fixture : ::testing::Test {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  template <class F>
  void run(F body) {
    asio::co_spawn(io, std::move(body), rethrow);
    io.run_for(std::chrono::seconds(10));
  }
};

using SocksOutboundTest = Fixture;

TEST_F(SocksOutboundTest, ConnectWithPasswordSendsCredentialsAfterTheMethodChoice) {
  auto config = make_config(port(), true);
  SocksOutbound outbound(config);
  Bytes8 greeting, credentials, request, uplink;
  std::size_t pipelined = 1;
  bool connected = false;
  const Bytes8 reply_and_banner =
      bytes({0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x30, 0x39, 'h', 'i'});

  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto [ec, s] = co_await acceptor.async_accept(kTuple);
        greeting = co_await read_n(s, 3);
        // Nothing past the greeting yet: the client waits for the method choice.
        pipelined = s.available();
        Bytes8 msg1 = bytes({0x05, 0x02});
        co_await write_bytes(s, msg1);
        credentials = co_await read_n(s, 3 + 5 + 6);
        Bytes8 msg2 = bytes({0x01, 0x00});
        co_await write_bytes(s, msg2);
        request = co_await read_n(s, 3 + 1 + 1 + 11 + 2);
        // Success reply, then a server-first banner in the same segment.
        co_await write_bytes(s, reply_and_banner);
        uplink = co_await read_n(s, 4);
      },
      rethrow);

  run([&]() -> awaitable<void> {
    core::Session session;
    session.id = 1;
    session.target = {net::Network::kTcp, net::Address::domain("example.com"), 443};
    auto stream = co_await outbound.connect(session);
    EXPECT_TRUE(stream) << (stream ? "" : stream.error().message());
    if (!stream) co_return;
    connected = true;
    std::array<std::uint8_t, 2> banner{};
    auto r = co_await (*stream)->read_some(asio::buffer(banner));
    EXPECT_FALSE(r.ec);
    EXPECT_EQ(std::string(banner.begin(), banner.begin() + r.bytes), "hi");
    std::array<std::uint8_t, 4> ping{'p', 'i', 'n', 'g'};
    EXPECT_FALSE(co_await (*stream)->write_all(asio::buffer(ping)));
  });

  EXPECT_TRUE(connected);
  EXPECT_EQ(pipelined, 0u);
  EXPECT_EQ(greeting, bytes({0x05, 0x01, 0x02}));
  EXPECT_EQ(credentials,
            bytes({0x01, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', 'e', 'c', 'r', 'e', 't'}));
  EXPECT_EQ(request, bytes({0x05, 0x01, 0x00, 0x03, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c',
                            'o', 'm', 0x01, 0xBB}));
  EXPECT_EQ(uplink, bytes({'p', 'i', 'n', 'g'}));
}

TEST_F(SocksOutboundTest, RefusedCredentialsFail) {
  auto config = make_config(port(), true);
  SocksOutbound outbound(config);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto [ec, s] = co_await acceptor.async_accept(kTuple);
        co_await read_n(s, 3);
        Bytes8 msg3 = bytes({0x05, 0x02});
        co_await write_bytes(s, msg3);
        co_await read_n(s, 14);
        Bytes8 msg4 = bytes({0x01, 0x01});
        co_await write_bytes(s, msg4);
        co_await read_n(s, 1);
      },
      rethrow);
  bool failed = false;
  run([&]() -> awaitable<void> {
    core::Session session;
    session.target = {net::Network::kTcp, net::Address::parse("10.1.2.3"), 80};
    auto stream = co_await outbound.connect(session);
    failed = !stream && stream.error().is(base::Errc::kAuthFailed);
  });
  EXPECT_TRUE(failed);
}

TEST_F(SocksOutboundTest, RefusedRequestFails) {
  auto config = make_config(port(), false);
  SocksOutbound outbound(config);
  Bytes8 request;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto [ec, s] = co_await acceptor.async_accept(kTuple);
        co_await read_n(s, 3);
        Bytes8 msg5 = bytes({0x05, 0x00});
        co_await write_bytes(s, msg5);
        request = co_await read_n(s, 10);
        Bytes8 msg6 = bytes({0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0});
        co_await write_bytes(s, msg6);
        co_await read_n(s, 1);
      },
      rethrow);
  bool failed = false;
  run([&]() -> awaitable<void> {
    core::Session session;
    session.target = {net::Network::kTcp, net::Address::parse("10.1.2.3"), 80};
    auto stream = co_await outbound.connect(session);
    failed = !stream;
  });
  EXPECT_TRUE(failed);
  EXPECT_EQ(request, bytes({0x05, 0x01, 0x00, 0x01, 10, 1, 2, 3, 0x00, 0x50}));
}

TEST_F(SocksOutboundTest, UdpAssociateWrapsAndUnwrapsDatagrams) {
  auto config = make_config(port(), false);
  SocksOutbound outbound(config);
  asio::ip::udp::socket relay(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t relay_port = relay.local_endpoint().port();
  Bytes8 request, datagram;
  bool control_closed = false;
  const Bytes8 associate_reply =
      bytes({0x05, 0x00, 0x00, 0x01, 0, 0, 0, 0, relay_port >> 8, relay_port & 0xFF});
  const Bytes8 reply = bytes({0x00, 0x00, 0x00, 0x01, 9, 9, 9, 9, 0x00, 0x35, 'o', 'k'});
  std::array<std::uint8_t, 256> in{};

  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto [ec, s] = co_await acceptor.async_accept(kTuple);
        co_await read_n(s, 3);
        Bytes8 msg7 = bytes({0x05, 0x00});
        co_await write_bytes(s, msg7);
        request = co_await read_n(s, 10);
        // BND.ADDR 0.0.0.0: "the server's own address".
        co_await write_bytes(s, associate_reply);
        asio::ip::udp::endpoint from;
        auto [rec, n] = co_await relay.async_receive_from(asio::buffer(in), from, kTuple);
        datagram.assign(in.begin(), in.begin() + n);
        co_await relay.async_send_to(asio::buffer(reply), from, kTuple);
        auto rest = co_await read_n(s, 1);  // EOF once the packet stream closes
        control_closed = rest.empty();
      },
      rethrow);

  run([&]() -> awaitable<void> {
    core::Session session;
    session.target = {net::Network::kUdp, net::Address::parse("9.9.9.9"), 53};
    auto packets = co_await outbound.open_packets(session);
    EXPECT_TRUE(packets) << (packets ? "" : packets.error().message());
    if (!packets) co_return;
    std::array<std::uint8_t, 2> q{'h', 'i'};
    EXPECT_FALSE(co_await (*packets)->send(q, session.target));
    std::array<std::uint8_t, 64> buf{};
    auto r = co_await (*packets)->receive(asio::buffer(buf));
    EXPECT_FALSE(r.ec);
    EXPECT_EQ(std::string(buf.begin(), buf.begin() + r.bytes), "ok");
    EXPECT_EQ(r.peer.host_port(), "9.9.9.9:53");
    (*packets)->close();
  });

  EXPECT_EQ(request, bytes({0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(datagram, bytes({0x00, 0x00, 0x00, 0x01, 9, 9, 9, 9, 0x00, 0x35, 'h', 'i'}));
  EXPECT_TRUE(control_closed);
}

}  // namespace
}  // namespace xsup::worker::proxy::socks
