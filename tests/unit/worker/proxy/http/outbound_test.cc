#include "worker/proxy/http/outbound.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <string>

namespace xsup::worker::proxy::http {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

// Runs an upstream proxy that answers one CONNECT with `answer`, and the outbound against
// it; returns what the outbound's stream yields first, or the error's reason.
struct Outcome {
  std::string request;  // the head the upstream received
  std::string first_bytes;
  std::string error;
};

Outcome run_exchange(std::string answer) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  Outcome outcome;

  config::OutboundConfig config;
  config.tag = "up";
  config.protocol = "http";
  config::HttpOutbound settings;
  config::ProxyServer server;
  server.address = {net::Network::kTcp, net::Address::parse("127.0.0.1"),
                    acceptor.local_endpoint().port()};
  server.users.push_back({"u", "p", 0, ""});
  settings.servers.push_back(server);
  settings.headers.push_back({"X-Test", "1"});
  config.settings = settings;
  HttpOutbound outbound(config);

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto [ec, socket] = co_await acceptor.async_accept(kTuple);
        if (ec) co_return;
        std::string head;
        auto [rec, n] =
            co_await asio::async_read_until(socket, asio::dynamic_buffer(head), "\r\n\r\n", kTuple);
        if (rec) co_return;
        outcome.request = head.substr(0, n);
        co_await asio::async_write(socket, asio::buffer(answer), kTuple);
        // Keep the socket until the client has read.
        char byte;
        co_await socket.async_read_some(asio::buffer(&byte, 1), kTuple);
      },
      asio::detached);

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        core::Session session;
        session.target = {net::Network::kTcp, net::Address::parse("example.com"), 443};
        auto stream = co_await outbound.connect(session);
        if (!stream) {
          outcome.error = std::string(stream.error().reason);
        } else {
          char buffer[64];
          auto result = co_await (*stream)->read_some(asio::buffer(buffer));
          outcome.first_bytes.assign(buffer, result.bytes);
          (*stream)->close();
        }
        acceptor.close();
      },
      asio::detached);
  io.run();
  return outcome;
}

TEST(HttpOutbound, SendsConnectAndKeepsBytesAfterTheHead) {
  Outcome o = run_exchange("HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\nEARLY");
  EXPECT_EQ(o.request,
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
            "Proxy-Authorization: Basic dTpw\r\nX-Test: 1\r\n\r\n");
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.first_bytes, "EARLY");
}

TEST(HttpOutbound, RefusedConnectIsAnError) {
  Outcome o = run_exchange("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
  EXPECT_EQ(o.error, "upstream proxy refused CONNECT");
}

}  // namespace
}  // namespace xsup::worker::proxy::http
