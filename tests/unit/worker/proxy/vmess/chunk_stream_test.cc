// ChunkStream over loopback sockets: the client and server ends of one VMess connection.

#include "worker/proxy/vmess/chunk_stream.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <string>
#include <vector>

#include "worker/core/tcp_stream.h"

namespace xsup::worker::proxy::vmess {
namespace {

using asio::ip::tcp;
using Vec = std::vector<std::uint8_t>;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
const std::string kRequest = "sealed-request";  // stands for AuthID ‖ … ‖ EncHeader

std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket a(io), b(io);
  a.connect(acceptor.local_endpoint());
  acceptor.accept(b);
  return {std::move(a), std::move(b)};
}

RequestHeader header(std::uint8_t security, std::uint8_t v = 0x2a) {
  RequestHeader h;
  for (std::size_t i = 0; i < 16; ++i) {
    h.body_iv[i] = static_cast<std::uint8_t>(i);
    h.body_key[i] = static_cast<std::uint8_t>(0x10 + i);
  }
  h.response_auth = v;
  h.options = kOptChunkStream | kOptChunkMasking | kOptGlobalPadding;
  h.security = security;
  h.command = Command::kTcp;
  h.target = {net::Network::kTcp, net::Address::domain("example.com"), 443};
  return h;
}

// Reads everything until EOF with reads of `step` bytes; the error that ended it.
asio::awaitable<std::error_code> read_all(core::Stream& s, Vec& out, std::size_t step) {
  Vec buffer(step);
  for (int i = 0; i < 1'000'000; ++i) {
    auto r = co_await s.read_some(asio::buffer(buffer));
    if (r.ec) co_return r.ec;
    out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(r.bytes));
  }
  co_return std::error_code{};
}

struct Pair {
  asio::io_context io;
  std::unique_ptr<ChunkStream> client;
  tcp::socket server_socket{io};

  Pair(const RequestHeader& client_header) {
    auto [a, b] = socket_pair(io);
    server_socket = std::move(b);
    client = std::make_unique<ChunkStream>(std::make_unique<core::TcpStream>(std::move(a)),
                                           ChunkStream::ClientSide{client_header, label(kRequest)});
  }

  // The server end, after it read the request bytes itself (as the inbound does).
  asio::awaitable<std::unique_ptr<ChunkStream>> accept(const RequestHeader& h) {
    core::Buffer buffer = core::BufferPool::local().acquire();
    auto [ec, n] = co_await asio::async_read(server_socket,
                                             asio::buffer(buffer.data(), kRequest.size()), kTuple);
    EXPECT_FALSE(ec);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buffer.data()), n), kRequest);
    co_return std::make_unique<ChunkStream>(
        std::make_unique<core::TcpStream>(std::move(server_socket)),
        ChunkStream::ServerSide{h, std::move(buffer), n, n});
  }
};

void both_directions(std::uint8_t security) {
  const RequestHeader h = header(security);
  Pair p(h);
  Vec up(300'000), down(100'000), got_up, got_down;
  for (std::size_t i = 0; i < up.size(); ++i) up[i] = static_cast<std::uint8_t>(i * 31);
  for (std::size_t i = 0; i < down.size(); ++i) down[i] = static_cast<std::uint8_t>(i * 17);
  std::error_code up_end, down_end;
  bool done = false;
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        // The client writes everything and ends; the server reads with small reads (a chunk
        // is handed out in pieces), then answers and ends.
        asio::co_spawn(
            p.io,
            [&]() -> asio::awaitable<void> {
              EXPECT_FALSE(co_await p.client->write_all(asio::buffer(up)));
              EXPECT_FALSE(co_await p.client->shutdown_send());
            },
            asio::detached);
        auto server = co_await p.accept(h);
        up_end = co_await read_all(*server, got_up, 1000);
        EXPECT_FALSE(co_await server->write_all(asio::buffer(down)));
        EXPECT_FALSE(co_await server->shutdown_send());
        down_end = co_await read_all(*p.client, got_down, 64 * 1024);
        done = true;
      },
      asio::detached);
  p.io.run_for(std::chrono::seconds(20));
  ASSERT_TRUE(done);
  EXPECT_EQ(up_end, asio::error::eof);
  EXPECT_EQ(down_end, asio::error::eof);
  EXPECT_EQ(got_up, up);
  EXPECT_EQ(got_down, down);
}

TEST(VmessChunkStream, BothDirectionsAes) { both_directions(3); }
TEST(VmessChunkStream, BothDirectionsChacha) { both_directions(4); }

TEST(VmessChunkStream, RequestGoesAloneAfterAWait) {
  // A client that only reads still sends its request (after 100 ms), so a
  // server-speaks-first protocol works.
  const RequestHeader h = header(3);
  Pair p(h);
  Vec got;
  std::error_code end;
  bool done = false;
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        asio::co_spawn(
            p.io,
            [&]() -> asio::awaitable<void> {
              auto server = co_await p.accept(h);
              const std::string banner = "220 ready";
              EXPECT_FALSE(co_await server->write_all(asio::buffer(banner)));
              EXPECT_FALSE(co_await server->shutdown_send());
            },
            asio::detached);
        end = co_await read_all(*p.client, got, 4096);
        done = true;
      },
      asio::detached);
  p.io.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(done);
  EXPECT_EQ(end, asio::error::eof);
  EXPECT_EQ(std::string(got.begin(), got.end()), "220 ready");
}

TEST(VmessChunkStream, WrongResponseAuthIsRefused) {
  Pair p(header(3, 0x01));
  std::error_code end;
  bool done = false;
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        // Named: g++ 12 must not see class temporaries inside co_await expressions.
        const std::string hi = "hi";
        const std::string reply = "reply";
        const RequestHeader server_header = header(3, 0x02);
        EXPECT_FALSE(co_await p.client->write_all(asio::buffer(hi)));
        auto server = co_await p.accept(server_header);
        EXPECT_FALSE(co_await server->write_all(asio::buffer(reply)));
        Vec got;
        end = co_await read_all(*p.client, got, 4096);
        EXPECT_TRUE(got.empty());
        done = true;
      },
      asio::detached);
  p.io.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(done);
  EXPECT_EQ(end, base::make_error_code(base::Errc::kAuthFailed));
}

TEST(VmessChunkStream, AcceptsAChunkLargerThanThePooledBuffer) {
  // Legal (L up to 65535) though Xray never sends it: 60000 bytes in one chunk.
  const RequestHeader h = header(4);
  Pair p(h);
  Vec payload(60'000, 0x5A), got;
  std::error_code end;
  bool done = false;
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        tcp::socket raw = std::move(p.server_socket);  // the test is the client here
        auto [a, b] = socket_pair(p.io);
        ChunkCodec sender = request_codec(h);
        Vec wire(kRequest.size() + sender.sealed_bound(payload.size()) + 64);
        std::copy(kRequest.begin(), kRequest.end(), wire.begin());
        std::size_t n = kRequest.size();
        n += sender.seal(payload, wire.data() + n);
        n += sender.seal({}, wire.data() + n);
        auto [ec, w] = co_await asio::async_write(a, asio::buffer(wire.data(), n), kTuple);
        EXPECT_FALSE(ec);
        p.server_socket = std::move(b);
        auto server = co_await p.accept(h);
        end = co_await read_all(*server, got, 64 * 1024);
        done = true;
        (void)raw;
      },
      asio::detached);
  p.io.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(done);
  EXPECT_EQ(end, asio::error::eof);
  EXPECT_EQ(got, payload);
}

}  // namespace
}  // namespace xsup::worker::proxy::vmess
