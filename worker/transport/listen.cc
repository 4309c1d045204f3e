#include "worker/transport/listen.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "worker/transport/tcp/dialer.h"

namespace xsup::worker::transport {
namespace {

// Kernel backlog for listeners; capped by net.core.somaxconn anyway.
constexpr int kBacklog = 4096;

socklen_t fill(const asio::ip::address& ip, std::uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (ip.is_v4()) {
    auto* a = reinterpret_cast<sockaddr_in*>(&out);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    auto bytes = ip.to_v4().to_bytes();
    std::memcpy(&a->sin_addr, bytes.data(), bytes.size());
    return sizeof(sockaddr_in);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(&out);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  auto bytes = ip.to_v6().to_bytes();
  std::memcpy(&a->sin6_addr, bytes.data(), bytes.size());
  a->sin6_scope_id = ip.to_v6().scope_id();
  return sizeof(sockaddr_in6);
}

base::Error errno_error(std::string_view step) {
  return base::Error(std::error_code(errno, std::system_category()), step);
}

void set_int(int fd, int level, int opt, int value) {
  ::setsockopt(fd, level, opt, &value, sizeof value);
}

}  // namespace

ListenSocket& ListenSocket::operator=(ListenSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

ListenSocket::~ListenSocket() {
  if (fd_ >= 0) ::close(fd_);
}

int ListenSocket::release() { return std::exchange(fd_, -1); }

base::Expected<asio::ip::address> listen_address(const config::InboundConfig& inbound) {
  if (inbound.listen.empty()) return asio::ip::address(asio::ip::address_v4::any());
  std::error_code ec;
  auto ip = asio::ip::make_address(inbound.listen, ec);
  if (ec) return base::Error(base::Errc::kUnsupported, "listen is not an IP address");
  return ip;
}

std::vector<std::uint16_t> listen_ports(const config::InboundConfig& inbound) {
  std::vector<std::uint16_t> out;
  for (const auto& range : inbound.ports.ranges()) {
    for (unsigned p = range.from; p <= range.to; ++p) out.push_back(static_cast<std::uint16_t>(p));
  }
  return out;
}

base::Expected<ListenSocket> bind_tcp(const asio::ip::address& ip, std::uint16_t port,
                                      const config::SockoptConfig& sockopt) {
  ListenSocket s(
      ::socket(ip.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) return errno_error("socket");
  set_int(s.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  tcp::apply_sockopt(s.get(), true, ip.is_v6(), sockopt, true);
  sockaddr_storage addr;
  socklen_t len = fill(ip, port, addr);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return errno_error("bind");
  if (::listen(s.get(), kBacklog) != 0) return errno_error("listen");
  return s;
}

base::Expected<ListenSocket> bind_udp(const asio::ip::address& ip, std::uint16_t port,
                                      const config::SockoptConfig& sockopt, bool reuse_port) {
  ListenSocket s(
      ::socket(ip.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s) return errno_error("socket");
  set_int(s.get(), SOL_SOCKET, SO_REUSEADDR, 1);
  if (reuse_port) set_int(s.get(), SOL_SOCKET, SO_REUSEPORT, 1);
  tcp::apply_sockopt(s.get(), false, ip.is_v6(), sockopt, true);
  sockaddr_storage addr;
  socklen_t len = fill(ip, port, addr);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return errno_error("bind");
  return s;
}

std::uint16_t local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

}  // namespace xsup::worker::transport
