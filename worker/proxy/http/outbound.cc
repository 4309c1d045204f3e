#include "worker/proxy/http/outbound.h"

#include <cstring>
#include <string_view>

#include "shared/base/log.h"
#include "worker/core/buffer_pool.h"
#include "worker/core/deadline.h"
#include "worker/core/tcp_stream.h"
#include "worker/proxy/http/codec.h"
#include "worker/proxy/http/http.h"
#include "worker/transport/dial.h"

namespace xsup::worker::proxy::http {

using base::Errc;
using base::Error;

awaitable<Expected<core::StreamPtr>> HttpOutbound::connect(core::Session& session) {
  const auto* settings = std::get_if<config::HttpOutbound>(&config_.settings);
  if (settings == nullptr || settings->servers.empty()) {
    co_return Error(Errc::kUnsupported, "http outbound without a server");
  }
  if (session.target.network != net::Network::kTcp) {
    co_return Error(Errc::kUnsupported, "http outbound carries TCP only");
  }
  const config::ProxyServer& server = settings->servers.front();
  auto dialled = co_await transport::dial_stream(config_, server.address, session);
  if (!dialled) co_return dialled.error();
  core::StreamPtr stream = std::move(*dialled);

  const std::string request = serialize_connect(
      session.target, server.users.empty() ? nullptr : &server.users.front(), settings->headers);
  // The CONNECT exchange is this outbound's handshake; the policy bounds it.
  core::Deadline deadline(*stream, session.policy.handshake);
  if (auto ec = co_await stream->write_all(asio::buffer(request))) {
    co_return Error(deadline.expired() ? make_error_code(Errc::kTimeout) : ec,
                    "http: sending CONNECT");
  }

  core::Buffer buffer = core::BufferPool::local().acquire();
  std::size_t begin = 0;
  std::size_t end = 0;
  while (true) {
    std::string_view data(reinterpret_cast<const char*>(buffer.data()) + begin, end - begin);
    auto head = parse_response_head(data, buffer.capacity());
    if (head) {
      if (head->status >= 100 && head->status < 200) {
        begin += head->size;  // an interim response; the final one follows (RFC 9110 §15.2)
        continue;
      }
      if (head->status < 200 || head->status > 299) {
        log::info(session.id, "http: upstream proxy {} answered CONNECT {} with {} {}",
                  server.address.host_port(), session.target.host_port(), head->status,
                  head->reason);
        co_return Error(Errc::kBlocked, "upstream proxy refused CONNECT");
      }
      deadline.cancel();
      begin += head->size;
      // A 2xx answer to CONNECT has no body (RFC 9110 §9.3.6): what follows it is the
      // tunnel's first bytes and must reach the client.
      if (begin < end) {
        co_return std::make_unique<core::PrefixedStream>(
            std::move(stream), std::span<const std::uint8_t>(buffer.data() + begin, end - begin));
      }
      co_return std::move(stream);
    }
    if (!head.error().is(Errc::kNeedMore)) co_return head.error();
    if (begin > 0) {
      std::memmove(buffer.data(), buffer.data() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    auto [ec, n] =
        co_await stream->read_some(asio::buffer(buffer.data() + end, buffer.capacity() - end));
    if (ec) {
      if (deadline.expired()) co_return Error(Errc::kTimeout, "http: CONNECT response timed out");
      co_return Error(ec, "http: reading the CONNECT response");
    }
    end += n;
  }
}

std::unique_ptr<Outbound> make_http_outbound(const config::OutboundConfig& config) {
  return std::make_unique<HttpOutbound>(config);
}

}  // namespace xsup::worker::proxy::http
