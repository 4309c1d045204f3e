#include "worker/core/relay.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "worker/core/buffer_pool.h"
#include "worker/core/tcp_stream.h"

namespace xsup::worker::core {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// Two connected loopback sockets.
std::pair<tcp::socket, tcp::socket> socket_pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket a(io), b(io);
  a.connect(acceptor.local_endpoint());
  acceptor.accept(b);
  return {std::move(a), std::move(b)};
}

// client_app <-> [client_side | relay | server_side] <-> server_app
struct Fixture {
  asio::io_context io;
  tcp::socket client_app{io};
  tcp::socket server_app{io};
  std::unique_ptr<Stream> client_side;
  std::unique_ptr<Stream> server_side;
  std::optional<RelayResult> result;
  Clock::time_point ended;

  explicit Fixture(bool prefixed_client = false) {
    auto [ca, cs] = socket_pair(io);
    auto [sa, ss] = socket_pair(io);
    client_app = std::move(ca);
    server_app = std::move(sa);
    client_side = std::make_unique<TcpStream>(std::move(cs));
    if (prefixed_client) {
      static const std::uint8_t kHello[] = {'h', 'i'};
      client_side = std::make_unique<PrefixedStream>(std::move(client_side), kHello);
    }
    server_side = std::make_unique<TcpStream>(std::move(ss));
  }

  void start(Policy policy) {
    asio::co_spawn(
        io,
        [this, policy]() -> asio::awaitable<void> {
          result = co_await relay(*client_side, *server_side, {}, policy);
          ended = Clock::now();
        },
        asio::detached);
  }
};

Policy short_policy() {
  Policy p;
  p.conn_idle = std::chrono::seconds(1);
  p.uplink_only = std::chrono::seconds(1);
  p.downlink_only = std::chrono::seconds(1);
  return p;
}

TEST(Relay, CarriesBothDirectionsAndHalfCloses) {
  Fixture f;
  f.start(Policy{});
  std::string up(300000, 'u');
  std::string down(200000, 'd');
  std::string got_up, got_down;
  asio::co_spawn(
      f.io,
      [&]() -> asio::awaitable<void> {
        co_await asio::async_write(f.client_app, asio::buffer(up), kTuple);
        f.client_app.shutdown(tcp::socket::shutdown_send);
        // The server sees all uplink bytes, then EOF, while it can still answer.
        std::string buf(up.size() + 10, '\0');
        auto [ec, n] = co_await asio::async_read(f.server_app, asio::buffer(buf), kTuple);
        EXPECT_EQ(ec, asio::error::eof);
        got_up = buf.substr(0, n);
        co_await asio::async_write(f.server_app, asio::buffer(down), kTuple);
        f.server_app.shutdown(tcp::socket::shutdown_send);
        std::string back(down.size() + 10, '\0');
        auto [ec2, m] = co_await asio::async_read(f.client_app, asio::buffer(back), kTuple);
        EXPECT_EQ(ec2, asio::error::eof);
        got_down = back.substr(0, m);
      },
      asio::detached);
  f.io.run_for(std::chrono::seconds(5));
  ASSERT_TRUE(f.result);
  EXPECT_EQ(got_up, up);
  EXPECT_EQ(got_down, down);
  EXPECT_EQ(f.result->uplink, up.size());
  EXPECT_EQ(f.result->downlink, down.size());
  EXPECT_TRUE(f.result->spliced);
  EXPECT_EQ(f.result->ended_by, "eof");
  EXPECT_FALSE(f.result->error);
}

TEST(Relay, CopiesWhenAStreamIsNotPlainTcp) {
  Fixture f(/*prefixed_client=*/true);
  f.start(Policy{});
  std::string got;
  asio::co_spawn(
      f.io,
      [&]() -> asio::awaitable<void> {
        co_await asio::async_write(f.client_app, asio::buffer(std::string("there")), kTuple);
        f.client_app.shutdown(tcp::socket::shutdown_send);
        std::string buf(64, '\0');
        auto [ec, n] = co_await asio::async_read(f.server_app, asio::buffer(buf), kTuple);
        got = buf.substr(0, n);
        f.server_app.shutdown(tcp::socket::shutdown_send);
      },
      asio::detached);
  f.io.run_for(std::chrono::seconds(5));
  ASSERT_TRUE(f.result);
  EXPECT_EQ(got, "hithere");
  EXPECT_EQ(f.result->uplink, 7u);
  // Uplink copies (the prefix is in user space); downlink splices.
  EXPECT_TRUE(f.result->spliced);
  EXPECT_EQ(BufferPool::local().outstanding(), 0u);  // an ended relay holds no buffer
}

TEST(Relay, SplicesOnceAStreamBecomesPlain) {
  Fixture f(/*prefixed_client=*/true);
  const RelayCounters before = relay_counters();
  f.start(Policy{});
  std::string up(1 << 20, 'u');
  std::size_t got = 0;
  asio::co_spawn(
      f.io,
      [&]() -> asio::awaitable<void> {
        co_await asio::async_write(f.client_app, asio::buffer(up), kTuple);
        f.client_app.shutdown(tcp::socket::shutdown_send);
        std::string buf(up.size() + 10, '\0');
        auto [ec, n] = co_await asio::async_read(f.server_app, asio::buffer(buf), kTuple);
        got = n;
        f.server_app.shutdown(tcp::socket::shutdown_send);
      },
      asio::detached);
  f.io.run_for(std::chrono::seconds(5));
  ASSERT_TRUE(f.result);
  EXPECT_EQ(got, up.size() + 2);
  // The prefix is copied; the bytes behind it go through splice(2).
  EXPECT_EQ(relay_counters().copied_bytes - before.copied_bytes, 2u);
  EXPECT_EQ(relay_counters().spliced_bytes - before.spliced_bytes, up.size());
}

TEST(Relay, ClosesAnIdleConnectionAfterConnIdle) {
  Fixture f;
  auto start = Clock::now();
  f.start(short_policy());
  f.io.run_for(std::chrono::seconds(4));
  ASSERT_TRUE(f.result);
  EXPECT_EQ(f.result->ended_by, "idle timeout");
  auto took = f.ended - start;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::milliseconds(2500));
}

TEST(Relay, ActivityKeepsAConnectionAlive) {
  Fixture f;
  auto start = Clock::now();
  f.start(short_policy());
  // A byte every 400 ms for 2.4 s keeps it alive past connIdle (1 s).
  asio::co_spawn(
      f.io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(f.io);
        char c = 'x';
        std::string sink(16, '\0');
        for (int i = 0; i < 6; ++i) {
          co_await asio::async_write(f.client_app, asio::buffer(&c, 1), kTuple);
          co_await f.server_app.async_read_some(asio::buffer(sink), kTuple);
          t.expires_after(std::chrono::milliseconds(400));
          co_await t.async_wait(kTuple);
        }
      },
      asio::detached);
  f.io.run_for(std::chrono::seconds(6));
  ASSERT_TRUE(f.result);
  EXPECT_EQ(f.result->ended_by, "idle timeout");
  EXPECT_GE(f.ended - start, std::chrono::milliseconds(3000));
}

TEST(Relay, GivesTheServerDownlinkOnlyAfterTheClientFinished) {
  Fixture f;
  Policy p = short_policy();
  p.conn_idle = std::chrono::seconds(30);
  auto start = Clock::now();
  f.start(p);
  f.client_app.shutdown(tcp::socket::shutdown_send);  // client done; server stays silent
  f.io.run_for(std::chrono::seconds(4));
  ASSERT_TRUE(f.result);
  EXPECT_EQ(f.result->ended_by, "half-closed timeout");
  EXPECT_LT(f.ended - start, std::chrono::milliseconds(2500));
}

TEST(Relay, AResetOnOneSideClosesBoth) {
  Fixture f;
  f.start(Policy{});
  f.server_app.set_option(asio::socket_base::linger(true, 0));
  f.server_app.close();  // RST
  f.io.run_for(std::chrono::seconds(3));
  ASSERT_TRUE(f.result);
  std::error_code ec;
  char c;
  f.client_app.non_blocking(false);
  f.client_app.read_some(asio::buffer(&c, 1), ec);
  EXPECT_TRUE(ec);  // the client side was closed too
}

}  // namespace
}  // namespace xsup::worker::core
