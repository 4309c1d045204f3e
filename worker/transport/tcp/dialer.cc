#include "worker/transport/tcp/dialer.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <random>

#include "shared/base/log.h"
#include "worker/transport/dns/resolver.h"

namespace xsup::worker::transport::tcp {
namespace {

using namespace asio::experimental::awaitable_operators;
using config::DomainStrategy;

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Xray's outbound TCP dial timeout (spec/config.md §5).
constexpr std::chrono::seconds kDialTimeout{16};
// Xray's outbound keepalive default, Chrome-like (spec/sockopt.md §1).
constexpr int kKeepAliveDefault = 45;

void set_int(int fd, int level, int opt, int value) {
  ::setsockopt(fd, level, opt, &value, sizeof value);  // failures are not fatal, as in Xray
}

bool wants_v4(DomainStrategy s) {
  return s != DomainStrategy::kUseIpv6 && s != DomainStrategy::kForceIpv6;
}
bool wants_v6(DomainStrategy s) {
  return s != DomainStrategy::kUseIpv4 && s != DomainStrategy::kForceIpv4;
}
bool prefers_v6(DomainStrategy s) {
  return s == DomainStrategy::kUseIpv6v4 || s == DomainStrategy::kForceIpv6v4 ||
         s == DomainStrategy::kUseIpv6 || s == DomainStrategy::kForceIpv6;
}

}  // namespace

void apply_sockopt(int fd, bool tcp, bool v6, const config::SockoptConfig& so, bool listener) {
  if (so.mark != 0) set_int(fd, SOL_SOCKET, SO_MARK, static_cast<int>(so.mark));
  if (!so.interface.empty() && !listener) {
    ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, so.interface.data(),
                 static_cast<socklen_t>(so.interface.size()));
  }
  if (tcp) {
    if (so.tcp_fast_open) {
      if (listener) {
        set_int(fd, IPPROTO_TCP, TCP_FASTOPEN, *so.tcp_fast_open > 0 ? *so.tcp_fast_open : 0);
      } else {
        set_int(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, *so.tcp_fast_open > 0 ? 1 : 0);
      }
    }
    if (!so.tcp_congestion.empty()) {
      ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, so.tcp_congestion.data(),
                   static_cast<socklen_t>(so.tcp_congestion.size()));
    }
    if (so.tcp_window_clamp > 0) set_int(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, so.tcp_window_clamp);
    if (so.tcp_user_timeout_ms > 0) {
      set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, so.tcp_user_timeout_ms);
    }
    if (so.tcp_max_seg > 0) set_int(fd, IPPROTO_TCP, TCP_MAXSEG, so.tcp_max_seg);
  }
  for (const auto& c : so.custom) {
    std::string family = std::string(tcp ? "tcp" : "udp") + (v6 ? "6" : "4");
    if (family.rfind(c.network, 0) != 0) continue;
    if (c.is_string) {
      ::setsockopt(fd, c.level, c.opt, c.string_value.data(),
                   static_cast<socklen_t>(c.string_value.size()));
    } else {
      set_int(fd, c.level, c.opt, static_cast<int>(c.int_value));
    }
  }
  if (so.tproxy != config::Tproxy::kOff) set_int(fd, SOL_IP, IP_TRANSPARENT, 1);
  if (tcp) {
    int idle = so.tcp_keep_alive_idle;
    int interval = so.tcp_keep_alive_interval;
    if (idle < 0 || interval < 0) {
      set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    } else if (!listener || idle > 0 || interval > 0) {
      set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
      int use_idle = idle > 0 ? idle : (listener ? 0 : kKeepAliveDefault);
      int use_interval = interval > 0 ? interval : (listener ? 0 : kKeepAliveDefault);
      if (use_idle > 0) set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, use_idle);
      if (use_interval > 0) set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, use_interval);
    }
  }
  if (listener && v6 && so.v6only) set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
}

awaitable<Expected<std::vector<asio::ip::address>>> resolve(const net::Address& address,
                                                            DomainStrategy strategy) {
  if (address.is_ip()) co_return std::vector<asio::ip::address>{address.ip()};
  // The worker's own stub resolver: the sandbox forbids what getaddrinfo does (open files,
  // load NSS modules), and it never blocks the loop.
  dns::Family family = !wants_v6(strategy)   ? dns::Family::kV4
                       : !wants_v4(strategy) ? dns::Family::kV6
                                             : dns::Family::kBoth;
  auto found = co_await dns::Resolver::local().resolve(address.domain(), family);
  if (!found) co_return found.error();
  std::vector<asio::ip::address> v4, v6;
  for (const auto& ip : *found) (ip.is_v4() ? v4 : v6).push_back(ip);
  std::vector<asio::ip::address> out;
  auto& first = prefers_v6(strategy) ? v6 : v4;
  auto& second = prefers_v6(strategy) ? v4 : v6;
  out.insert(out.end(), first.begin(), first.end());
  out.insert(out.end(), second.begin(), second.end());
  if (out.empty()) {
    co_return base::Error(base::Errc::kResolveFailed, "no address of the wanted family");
  }
  co_return out;
}

awaitable<Expected<asio::ip::tcp::socket>> dial(const net::Destination& to,
                                                const DialOptions& options) {
  auto executor = co_await asio::this_coro::executor;
  auto addresses = co_await resolve(to.address, options.domain_strategy);
  if (!addresses) co_return addresses.error();

  std::error_code last = make_error_code(asio::error::host_unreachable);
  for (const auto& ip : *addresses) {
    asio::ip::tcp::endpoint endpoint(ip, to.port);
    asio::ip::tcp::socket socket(executor);
    std::error_code ec;
    socket.open(endpoint.protocol(), ec);
    if (ec) {
      last = ec;
      continue;
    }
    if (options.sockopt != nullptr) {
      apply_sockopt(socket.native_handle(), true, ip.is_v6(), *options.sockopt, false);
    }
    if (!options.send_through.empty()) {
      auto local = asio::ip::make_address(options.send_through, ec);
      if (!ec) socket.bind(asio::ip::tcp::endpoint(local, 0), ec);
      if (ec) {
        last = ec;
        continue;
      }
    }
    asio::steady_timer timer(executor, kDialTimeout);
    auto outcome = co_await (socket.async_connect(endpoint, kTuple) || timer.async_wait(kTuple));
    if (outcome.index() == 1) {
      last = make_error_code(asio::error::timed_out);
      continue;
    }
    auto [cec] = std::get<0>(outcome);
    if (cec) {
      last = cec;
      continue;
    }
    co_return std::move(socket);
  }
  co_return base::Error(last, "dial");
}

}  // namespace xsup::worker::transport::tcp
