#include "worker/proxy/fallback/fallback.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <asio/ip/tcp.hpp>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "shared/base/log.h"
#include "worker/core/relay.h"
#include "worker/core/tcp_stream.h"
#include "worker/proxy/fallback/proxy_header.h"
#include "worker/transport/tcp/dialer.h"

namespace xsup::worker::proxy::fallback {
namespace {

using base::Errc;
using base::Error;
using base::Expected;

// A connected Unix stream socket in a TcpStream: reads, writes, half-close and splice are
// the same calls on it; only TCP_NODELAY does not apply (and fails quietly).
Expected<core::StreamPtr> connect_unix(asio::any_io_executor executor, const std::string& path) {
  sockaddr_un addr{};
  if (path.size() > sizeof addr.sun_path) return Error(Errc::kProtocol, "socket path too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(std::error_code(errno, std::system_category()));
  // A Unix connect completes at once or fails (EAGAIN: the listener's backlog is full).
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    std::error_code ec(errno, std::system_category());
    ::close(fd);
    return Error(ec);
  }
  asio::ip::tcp::socket socket(executor);
  std::error_code ec;
  socket.assign(asio::ip::tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return Error(ec);
  }
  return core::StreamPtr(std::make_unique<core::TcpStream>(std::move(socket)));
}

awaitable<Expected<core::StreamPtr>> connect(const config::Fallback& fb,
                                             asio::any_io_executor executor) {
  if (fb.kind == config::Fallback::Kind::kUnix) co_return connect_unix(executor, fb.unix_path);
  transport::tcp::DialOptions options;
  auto socket = co_await transport::tcp::dial(fb.tcp, options);
  if (!socket) co_return socket.error();
  co_return core::StreamPtr(std::make_unique<core::TcpStream>(std::move(*socket)));
}

std::string dest_text(const config::Fallback& fb) {
  if (fb.kind == config::Fallback::Kind::kTcp) return fb.tcp.host_port();
  if (!fb.unix_path.empty() && fb.unix_path[0] == '\0') {
    return "@" + std::string(fb.unix_path.c_str() + 1);
  }
  return fb.unix_path;
}

}  // namespace

awaitable<void> serve(const FallbackTable& table, core::Stream& client, core::Session& session,
                      std::span<const std::uint8_t> first, std::string_view protocol) {
  const config::Fallback* fb = table.pick(session.tls_server_name, session.tls_alpn, first);
  if (fb == nullptr) {
    log::info(session.id, "{}: rejected: no fallback matches", protocol);
    client.close();
    co_return;
  }
  const std::string dest = dest_text(*fb);
  auto server = co_await connect(*fb, client.get_executor());
  if (!server) {
    log::info(session.id, "{}: fallback to {} failed: {}", protocol, dest,
              server.error().message());
    client.close();
    co_return;
  }
  log::info(session.id, "{}: fallback to {} ({} bytes{})", protocol, dest, first.size(),
            fb->xver != 0 ? fmt::format(", PROXY v{}", fb->xver) : std::string());
  const ProxyHeader header = encode_proxy_header(fb->xver, session.source, session.local);
  const std::array<asio::const_buffer, 2> opening{asio::buffer(header.data.data(), header.size),
                                                  asio::buffer(first.data(), first.size())};
  if (std::error_code ec = co_await (*server)->write(opening); ec) {
    log::info(session.id, "{}: fallback to {} failed: {}", protocol, dest, ec.message());
    (*server)->close();
    client.close();
    co_return;
  }
  auto result = co_await core::relay(client, **server, {}, session.policy);
  (*server)->close();
  client.close();
  log::info(session.id, "{}: fallback closed: up {} down {} ({})", protocol,
            result.uplink + first.size(), result.downlink, result.ended_by);
}

}  // namespace xsup::worker::proxy::fallback
