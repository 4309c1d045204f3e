#include "shared/net/destination.h"

#include <algorithm>
#include <charconv>

namespace xsup::net {

std::string_view to_string(Network network) { return network == Network::kTcp ? "tcp" : "udp"; }

Address Address::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  asio::error_code ec;
  auto ip = asio::ip::make_address(std::string(text), ec);
  if (!ec) {
    if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
      return Address(asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6()));
    }
    return Address(ip);
  }
  std::string name(text);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return domain(std::move(name));
}

std::string Address::to_string() const {
  if (is_ip()) return ip().to_string();
  return domain();
}

std::string Destination::host_port() const {
  std::string out;
  if (address.is_ip() && address.ip().is_v6()) {
    out = "[" + address.to_string() + "]";
  } else {
    out = address.to_string();
  }
  out += ':';
  out += std::to_string(port);
  return out;
}

std::string Destination::to_string() const {
  return std::string(net::to_string(network)) + ":" + host_port();
}

std::optional<Destination> parse_host_port(std::string_view text, Network network) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.find(':') != std::string_view::npos &&
      !(host.front() == '[' && host.back() == ']')) {
    return std::nullopt;  // a bare IPv6 address needs brackets
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return std::nullopt;
  }
  Destination d;
  d.network = network;
  d.address = Address::parse(host);
  d.port = static_cast<std::uint16_t>(port);
  if (d.address.empty()) return std::nullopt;
  return d;
}

}  // namespace xsup::net
