// The SOCKS inbound's handshake over a real loopback TCP connection: what a client sees
// on the wire and what the inbound decides, for pipelined and byte-by-byte clients.

#include "worker/proxy/socks/server_handshake.h"

#include <gtest/gtest.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "worker/core/tcp_stream.h"

namespace xsup::worker::proxy::socks {
namespace {

using asio::ip::tcp;
using Bytes8 = std::vector<std::uint8_t>;
using Next = HandshakeResult::Next;
using asio::awaitable;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

Bytes8 bytes(std::initializer_list<int> values) {
  Bytes8 out;
  for (int v : values) out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

Bytes8 concat(std::initializer_list<Bytes8> parts) {
  Bytes8 out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

struct Outcome {
  std::optional<base::Expected<HandshakeResult>> result;
  Bytes8 sent_to_client;  // everything the server wrote
  Bytes8 left_over;       // client bytes read past the handshake
};

config::SocksInbound password_settings() {
  config::SocksInbound s;
  s.auth_password = true;
  s.accounts.push_back({"alice", "pw", 3, "alice@example.com"});
  s.accounts.push_back({"bob", "secret", 0, "bob"});
  return s;
}

// Connects a client to a fresh listener, sends `chunks` (one write each, 2 ms apart when
// there are several) and runs the server handshake on the accepted side.
Outcome run_handshake(const config::SocksInbound& settings, std::vector<Bytes8> chunks) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(io);
  Outcome out;
  std::array<std::uint8_t, 4096> storage{};

  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await client.async_connect(acceptor.local_endpoint(), kTuple);
        auto [ec, accepted] = co_await acceptor.async_accept(kTuple);
        const net::Destination local{net::Network::kTcp, net::Address::parse("127.0.0.1"), 1080};
        core::TcpStream server(std::move(accepted));

        asio::co_spawn(
            io,
            [&]() -> awaitable<void> {
              asio::steady_timer pause(io);
              for (const auto& chunk : chunks) {
                co_await asio::async_write(client, asio::buffer(chunk), kTuple);
                if (chunks.size() > 1) {
                  pause.expires_after(std::chrono::milliseconds(2));
                  co_await pause.async_wait(kTuple);
                }
              }
            },
            rethrow);

        HandshakeReader reader{storage};
        out.result = co_await accept_handshake(server, reader, settings, local);
        auto rest = reader.unparsed();
        out.left_over.assign(rest.begin(), rest.end());
        server.close();
        std::array<std::uint8_t, 1024> in{};
        auto [rec, n] = co_await asio::async_read(client, asio::buffer(in), kTuple);
        out.sent_to_client.assign(in.begin(), in.begin() + n);
      },
      rethrow);
  io.run_for(std::chrono::seconds(10));
  return out;
}

const Bytes8 kSuccessReply = bytes({0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, 0x04, 0x38});

TEST(SocksServerHandshake, PipelinedPasswordClient) {
  // Greeting, credentials, CONNECT and the first payload bytes in one segment (v2ray's form).
  Bytes8 in = concat({bytes({0x05, 0x01, 0x02}),
                      bytes({0x01, 0x03, 'b', 'o', 'b', 0x06, 's', 'e', 'c', 'r', 'e', 't'}),
                      bytes({0x05, 0x01, 0x00, 0x03, 0x04, 'h', '.', 'i', 'o', 0x00, 0x50}),
                      bytes({'G', 'E', 'T'})});
  const auto settings = password_settings();  // result.account points into it
  auto out = run_handshake(settings, {in});
  ASSERT_TRUE(out.result.has_value());
  ASSERT_TRUE(*out.result) << out.result->error().message();
  const auto& result = **out.result;
  EXPECT_EQ(result.next, Next::kConnect);
  EXPECT_EQ(result.target.to_string(), "tcp:h.io:80");
  ASSERT_TRUE(result.user.has_value());
  EXPECT_EQ(result.user->email, "bob");
  EXPECT_EQ(out.sent_to_client, concat({bytes({0x05, 0x02, 0x01, 0x00}), kSuccessReply}));
  EXPECT_EQ(out.left_over, bytes({'G', 'E', 'T'}));
}

TEST(SocksServerHandshake, ByteByByteClient) {
  Bytes8 in = concat(
      {bytes({0x05, 0x02, 0x00, 0x01}), bytes({0x05, 0x01, 0x00, 0x01, 10, 0, 0, 2, 0x01, 0xBB})});
  std::vector<Bytes8> chunks;
  for (auto b : in) chunks.push_back({b});
  auto out = run_handshake(config::SocksInbound{}, chunks);
  ASSERT_TRUE(out.result.has_value() && *out.result);
  EXPECT_EQ((*out.result)->target.to_string(), "tcp:10.0.0.2:443");
  EXPECT_FALSE((*out.result)->user.has_value());
  EXPECT_EQ(out.sent_to_client, concat({bytes({0x05, 0x00}), kSuccessReply}));
  EXPECT_TRUE(out.left_over.empty());
}

TEST(SocksServerHandshake, WrongPasswordIsRefused) {
  Bytes8 in = bytes({0x05, 0x01, 0x02, 0x01, 0x03, 'b', 'o', 'b', 0x01, 'x'});
  auto out = run_handshake(password_settings(), {in});
  ASSERT_TRUE(out.result.has_value());
  ASSERT_FALSE(*out.result);
  EXPECT_TRUE(out.result->error().is(base::Errc::kAuthFailed));
  EXPECT_EQ(out.sent_to_client, bytes({0x05, 0x02, 0x01, 0x01}));
}

TEST(SocksServerHandshake, NoAcceptableMethod) {
  auto out = run_handshake(password_settings(), {bytes({0x05, 0x01, 0x00})});
  ASSERT_TRUE(out.result.has_value());
  EXPECT_FALSE(*out.result);
  EXPECT_EQ(out.sent_to_client, bytes({0x05, 0xFF}));
}

TEST(SocksServerHandshake, Socks4RefusedWhenPasswordIsOn) {
  auto out =
      run_handshake(password_settings(), {bytes({0x04, 0x01, 0x00, 0x50, 1, 2, 3, 4, 'u', 0x00})});
  ASSERT_TRUE(out.result.has_value());
  EXPECT_FALSE(*out.result);
  EXPECT_EQ(out.sent_to_client, bytes({0x00, 0x5B, 0, 0, 0, 0, 0, 0}));
}

TEST(SocksServerHandshake, Socks4aConnect) {
  auto out =
      run_handshake(config::SocksInbound{},
                    {bytes({0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0x00, 'a', '.', 'b', 0x00, 'x'})});
  ASSERT_TRUE(out.result.has_value() && *out.result);
  EXPECT_EQ((*out.result)->target.to_string(), "tcp:a.b:80");
  EXPECT_EQ(out.sent_to_client, bytes({0x00, 0x5A, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(out.left_over, bytes({'x'}));
}

TEST(SocksServerHandshake, BindIsNotSupported) {
  auto out = run_handshake(config::SocksInbound{},
                           {bytes({0x05, 0x01, 0x00, 0x05, 0x02, 0x00, 0x01, 1, 2, 3, 4, 0, 80})});
  ASSERT_TRUE(out.result.has_value());
  EXPECT_FALSE(*out.result);
  EXPECT_EQ(out.sent_to_client,
            bytes({0x05, 0x00, 0x05, 0x07, 0x00, 0x01, 127, 0, 0, 1, 0x00, 0x00}));
}

TEST(SocksServerHandshake, UdpAssociate) {
  Bytes8 in = bytes({0x05, 0x01, 0x00, 0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0});
  auto off = run_handshake(config::SocksInbound{}, {in});
  ASSERT_TRUE(off.result.has_value());
  EXPECT_FALSE(*off.result);
  EXPECT_EQ(off.sent_to_client[3], 0x07);

  config::SocksInbound on;
  on.udp = true;
  on.ip = "192.0.2.9";
  auto out = run_handshake(on, {in});
  ASSERT_TRUE(out.result.has_value() && *out.result);
  EXPECT_EQ((*out.result)->next, Next::kUdpAssociate);
  EXPECT_EQ(out.sent_to_client,
            bytes({0x05, 0x00, 0x05, 0x00, 0x00, 0x01, 192, 0, 2, 9, 0x04, 0x38}));
}

TEST(SocksServerHandshake, HttpIsHandedOver) {
  auto out = run_handshake(config::SocksInbound{}, {bytes({'G', 'E', 'T', ' '})});
  ASSERT_TRUE(out.result.has_value() && *out.result);
  EXPECT_EQ((*out.result)->next, Next::kNotSocks);
  EXPECT_EQ(out.left_over, bytes({'G', 'E', 'T', ' '}));
  EXPECT_TRUE(out.sent_to_client.empty());
}

TEST(SocksServerHandshake, MalformedRequestIsRejected) {
  auto out = run_handshake(config::SocksInbound{},
                           {bytes({0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, 0x00, 0, 80})});
  ASSERT_TRUE(out.result.has_value());
  ASSERT_FALSE(*out.result);
  EXPECT_TRUE(out.result->error().is(base::Errc::kProtocol));
  EXPECT_EQ(out.result->error().reason, "empty domain");
}

}  // namespace
}  // namespace xsup::worker::proxy::socks
