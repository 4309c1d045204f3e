// UdpRelay on a loopback UDP socket with an in-memory "outbound" that echoes every packet
// back from its destination: what a SOCKS UDP client sends and receives, the association
// filter, and the end of sessions.

#include "worker/proxy/socks/udp_relay.h"

#include <gtest/gtest.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

namespace xsup::worker::proxy::socks {
namespace {

using asio::awaitable;
using asio::ip::udp;
using Bytes8 = std::vector<std::uint8_t>;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// Sends every packet back as if its destination answered with the same bytes.
class EchoPackets final : public core::PacketStream {
 public:
  explicit EchoPackets(asio::any_io_executor executor, int* open_streams)
      : signal_(executor, std::chrono::steady_clock::time_point::max()),
        open_streams_(open_streams) {
    ++*open_streams_;
  }
  ~EchoPackets() override { --*open_streams_; }

  asio::any_io_executor get_executor() override { return signal_.get_executor(); }

  awaitable<core::PacketResult> receive(asio::mutable_buffer buffer) override {
    while (queue_.empty() && !closed_) {
      signal_.expires_at(std::chrono::steady_clock::time_point::max());
      co_await signal_.async_wait(kTuple);
    }
    if (closed_) co_return core::PacketResult{asio::error::operation_aborted, 0, {}};
    auto [data, from] = std::move(queue_.front());
    queue_.pop_front();
    const std::size_t n = std::min(data.size(), buffer.size());
    std::memcpy(buffer.data(), data.data(), n);
    co_return core::PacketResult{{}, n, from};
  }

  awaitable<std::error_code> send(std::span<const std::uint8_t> payload,
                                  const net::Destination& to) override {
    queue_.emplace_back(Bytes8(payload.begin(), payload.end()), to);
    signal_.cancel();
    co_return std::error_code{};
  }

  void close() override {
    closed_ = true;
    signal_.cancel();
  }

 private:
  asio::steady_timer signal_;
  std::deque<std::pair<Bytes8, net::Destination>> queue_;
  bool closed_ = false;
  int* open_streams_;
};

struct UdpRelayTest : ::testing::Test {
  asio::io_context io;
  udp::socket relay_socket{io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  udp::socket client{io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  int opened = 0;        // packet streams the relay asked for
  int open_streams = 0;  // of them, not yet destroyed
  std::vector<std::string> session_users;
  const Bytes8 to_dns_server = {0x00, 0x00, 0x00, 0x01, 9, 9, 9, 9, 0x00, 0x35};

  std::unique_ptr<UdpRelay> make_relay(bool require_association) {
    UdpRelay::Options options;
    options.inbound_tag = "socks-in";
    options.require_association = require_association;
    options.policy.conn_idle = std::chrono::seconds(300);
    return std::make_unique<UdpRelay>(
        options,
        [this](core::Session& session) -> awaitable<base::Expected<core::PacketStreamPtr>> {
          ++opened;
          session_users.push_back(session.user);
          EXPECT_EQ(session.inbound_tag, "socks-in");
          EXPECT_EQ(session.target.network, net::Network::kUdp);
          co_return core::PacketStreamPtr(
              std::make_unique<EchoPackets>(io.get_executor(), &open_streams));
        });
  }

  // Sends one SOCKS UDP datagram to 9.9.9.9:53 and waits up to `wait` for an answer.
  awaitable<Bytes8> exchange(std::string_view payload, std::chrono::milliseconds wait) {
    Bytes8 datagram = to_dns_server;
    datagram.insert(datagram.end(), payload.begin(), payload.end());
    co_await client.async_send_to(asio::buffer(datagram), relay_socket.local_endpoint(), kTuple);
    asio::steady_timer timeout(io, wait);
    timeout.async_wait([this](std::error_code ec) {
      if (!ec) client.cancel();
    });
    std::array<std::uint8_t, 512> in{};
    udp::endpoint from;
    auto [ec, n] = co_await client.async_receive_from(asio::buffer(in), from, kTuple);
    timeout.cancel();
    if (ec) co_return Bytes8{};
    co_return Bytes8(in.begin(), in.begin() + n);
  }
};

TEST_F(UdpRelayTest, EchoesThroughOneSessionPerClient) {
  auto relay = make_relay(false);
  Bytes8 first, second;
  asio::co_spawn(io, relay->serve(relay_socket), rethrow);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        first = co_await exchange("hi", std::chrono::seconds(5));
        second = co_await exchange("yo", std::chrono::seconds(5));
        EXPECT_EQ(relay->clients(), 1u);
        relay_socket.close();
      },
      rethrow);
  io.run_for(std::chrono::seconds(10));

  const Bytes8 header = {0x00, 0x00, 0x00, 0x01, 9, 9, 9, 9, 0x00, 0x35};
  Bytes8 want_first = header, want_second = header;
  want_first.insert(want_first.end(), {'h', 'i'});
  want_second.insert(want_second.end(), {'y', 'o'});
  EXPECT_EQ(first, want_first);
  EXPECT_EQ(second, want_second);
  EXPECT_EQ(opened, 1);
  // serve() returned with every session closed and freed.
  EXPECT_EQ(relay->clients(), 0u);
  EXPECT_EQ(open_streams, 0);
}

TEST_F(UdpRelayTest, PasswordModeNeedsAnAssociation) {
  auto relay = make_relay(true);
  Bytes8 refused, allowed;
  std::size_t clients_after_dissociate = 99;
  asio::co_spawn(io, relay->serve(relay_socket), rethrow);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        refused = co_await exchange("no", std::chrono::milliseconds(200));
        relay->associate(asio::ip::make_address("127.0.0.1"), "alice", 2, {});
        allowed = co_await exchange("ok", std::chrono::seconds(5));
        relay->dissociate(asio::ip::make_address("127.0.0.1"));
        clients_after_dissociate = relay->clients();
        relay_socket.close();
      },
      rethrow);
  io.run_for(std::chrono::seconds(10));

  EXPECT_TRUE(refused.empty());
  ASSERT_EQ(allowed.size(), 12u);
  EXPECT_EQ(allowed[10], 'o');
  ASSERT_EQ(session_users.size(), 1u);
  EXPECT_EQ(session_users[0], "alice");
  EXPECT_EQ(clients_after_dissociate, 0u);
  EXPECT_EQ(open_streams, 0);
}

TEST_F(UdpRelayTest, FragmentsAndGarbageAreDropped) {
  auto relay = make_relay(false);
  const Bytes8 fragment = {0x00, 0x00, 0x01, 0x01, 9, 9, 9, 9, 0x00, 0x35, 'x'};
  const Bytes8 garbage = {0x00, 0x00, 0x00, 0x07};
  Bytes8 answer;
  asio::co_spawn(io, relay->serve(relay_socket), rethrow);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await client.async_send_to(asio::buffer(fragment), relay_socket.local_endpoint(),
                                      kTuple);
        co_await client.async_send_to(asio::buffer(garbage), relay_socket.local_endpoint(), kTuple);
        answer = co_await exchange("ok", std::chrono::seconds(5));
        relay_socket.close();
      },
      rethrow);
  io.run_for(std::chrono::seconds(10));
  ASSERT_EQ(answer.size(), 12u);  // only the well-formed datagram came back
  EXPECT_EQ(opened, 1);
}

}  // namespace
}  // namespace xsup::worker::proxy::socks
