#include "worker/proxy/fallback/proxy_header.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace xsup::worker::proxy::fallback {
namespace {

// proxy-protocol.txt §2.2: the v2 signature.
constexpr std::array<std::uint8_t, 12> kSignature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::uint8_t kV2Proxy = 0x21;  // version 2, command PROXY
constexpr std::uint8_t kV2Local = 0x20;  // version 2, command LOCAL
constexpr std::uint8_t kTcp4 = 0x11;
constexpr std::uint8_t kTcp6 = 0x21;

// An IPv4-mapped IPv6 address counts as IPv4, as Go prints it.
std::optional<asio::ip::address> plain_ip(const net::Destination& d) {
  if (!d.address.is_ip()) return std::nullopt;
  asio::ip::address ip = d.address.ip();
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
    return asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6()));
  }
  return ip;
}

void put(ProxyHeader& h, std::span<const std::uint8_t> bytes) {
  std::memcpy(h.data.data() + h.size, bytes.data(), bytes.size());
  h.size += bytes.size();
}

void put_port(ProxyHeader& h, std::uint16_t port) {
  h.data[h.size++] = static_cast<std::uint8_t>(port >> 8);
  h.data[h.size++] = static_cast<std::uint8_t>(port & 0xFF);
}

}  // namespace

ProxyHeader encode_proxy_header(int version, const net::Destination& source,
                                const net::Destination& local) {
  ProxyHeader h;
  auto src = plain_ip(source);
  auto dst = plain_ip(local);
  const bool known = src && dst && src->is_v4() == dst->is_v4();
  if (version == 1) {
    std::string text =
        known ? fmt::format("PROXY {} {} {} {} {}\r\n", src->is_v4() ? "TCP4" : "TCP6",
                            src->to_string(), dst->to_string(), source.port, local.port)
              : std::string("PROXY UNKNOWN\r\n");
    put(h, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
    return h;
  }
  if (version != 2) return h;
  put(h, kSignature);
  if (!known) {
    const std::uint8_t local_header[] = {kV2Local, 0x00, 0x00, 0x00};
    put(h, local_header);
    return h;
  }
  if (src->is_v4()) {
    const std::uint8_t head[] = {kV2Proxy, kTcp4, 0x00, 12};
    put(h, head);
    put(h, src->to_v4().to_bytes());
    put(h, dst->to_v4().to_bytes());
  } else {
    const std::uint8_t head[] = {kV2Proxy, kTcp6, 0x00, 36};
    put(h, head);
    put(h, src->to_v6().to_bytes());
    put(h, dst->to_v6().to_bytes());
  }
  put_port(h, source.port);
  put_port(h, local.port);
  return h;
}

}  // namespace xsup::worker::proxy::fallback
