#include "worker/transport/dial.h"

#include "worker/core/tcp_stream.h"
#include "worker/transport/tcp/dialer.h"
#include "worker/transport/tls/context.h"

namespace xsup::worker::transport {
namespace {
// When the policy sets no handshake time (0), as long as the TCP dial may take.
constexpr std::chrono::seconds kDefaultHandshake{16};
}  // namespace

asio::awaitable<base::Expected<core::StreamPtr>> dial_stream(const config::OutboundConfig& outbound,
                                                             const net::Destination& server,
                                                             std::uint64_t conn,
                                                             std::chrono::seconds handshake) {
  tcp::DialOptions options;
  options.sockopt = &outbound.stream.sockopt;
  options.send_through = outbound.send_through;
  options.domain_strategy = outbound.stream.sockopt.domain_strategy;
  auto socket = co_await tcp::dial(server, options);
  if (!socket) co_return socket.error();
  auto stream = std::make_unique<core::TcpStream>(std::move(*socket));
  if (outbound.stream.security != config::SecurityKind::kTls) {
    co_return core::StreamPtr(std::move(stream));
  }
  const auto limit = handshake > std::chrono::seconds::zero()
                         ? std::chrono::steady_clock::duration(handshake)
                         : std::chrono::steady_clock::duration(kDefaultHandshake);
  co_return co_await tls::connect(std::move(stream), outbound, server.address, limit, conn);
}

}  // namespace xsup::worker::transport
