#include "worker/proxy/address_codec.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace xsup::worker::proxy {
namespace {

using base::Errc;
using base::Error;

struct AtypSet {
  std::uint8_t ipv4;
  std::uint8_t domain;
  std::uint8_t ipv6;
};

// spec/vless.md §3.1 and spec/trojan.md §1.
constexpr AtypSet kPortFirstAtyp{0x01, 0x02, 0x03};
constexpr AtypSet kSocksAtyp{0x01, 0x03, 0x04};

const AtypSet& atyps(AddressLayout layout) {
  return layout == AddressLayout::kPortFirst ? kPortFirstAtyp : kSocksAtyp;
}

bool domain_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '.' || c == '_';
}

// Xray's ParseAddress on a received domain (common/protocol/address.go).
Expected<net::Address> decode_domain(std::string_view name) {
  if (name.empty()) return Error(Errc::kProtocol, "empty domain");
  if ((name[0] >= '0' && name[0] <= '9') || name[0] == '[') {
    std::string_view literal = name;
    if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']') {
      literal = literal.substr(1, literal.size() - 2);
    }
    std::error_code ec;
    // Go's net.ParseIP takes no zone ("fe80::1%eth0", even with an unknown interface):
    // such a name is no IP, and its '%' then fails the domain check below.
    if (literal.find('%') == std::string_view::npos) {
      auto ip = asio::ip::make_address(std::string(literal), ec);
      if (!ec) return net::Address(ip);
    }
  }
  if (!std::all_of(name.begin(), name.end(), domain_char)) {
    return Error(Errc::kProtocol, "invalid domain name");
  }
  return net::Address::parse(name);
}

std::uint16_t read_port(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

}  // namespace

Expected<Decoded<net::Destination>> parse_address(std::span<const std::uint8_t> in,
                                                  AddressLayout layout) {
  const AtypSet& set = atyps(layout);
  const bool port_first = layout == AddressLayout::kPortFirst;
  std::size_t at = port_first ? 2 : 0;
  if (in.size() < at + 1) return Error(Errc::kNeedMore);
  const std::uint8_t atyp = in[at++];
  net::Destination out;
  std::size_t address_end = 0;
  if (atyp == set.ipv4) {
    address_end = at + 4;
    if (in.size() < address_end) return Error(Errc::kNeedMore);
    asio::ip::address_v4::bytes_type bytes;
    std::memcpy(bytes.data(), in.data() + at, bytes.size());
    out.address = net::Address(asio::ip::address(asio::ip::address_v4(bytes)));
  } else if (atyp == set.ipv6) {
    address_end = at + 16;
    if (in.size() < address_end) return Error(Errc::kNeedMore);
    asio::ip::address_v6::bytes_type bytes;
    std::memcpy(bytes.data(), in.data() + at, bytes.size());
    out.address = net::Address(asio::ip::address(asio::ip::address_v6(bytes)));
  } else if (atyp == set.domain) {
    if (in.size() < at + 1) return Error(Errc::kNeedMore);
    const std::size_t len = in[at++];
    if (len == 0) return Error(Errc::kProtocol, "empty domain");
    address_end = at + len;
    if (in.size() < address_end) return Error(Errc::kNeedMore);
    auto domain = decode_domain({reinterpret_cast<const char*>(in.data() + at), len});
    if (!domain) return domain.error();
    out.address = std::move(*domain);
  } else {
    return Error(Errc::kProtocol, "unknown address type");
  }
  if (port_first) {
    out.port = read_port(in.data());
    return Decoded<net::Destination>{std::move(out), address_end};
  }
  if (in.size() < address_end + 2) return Error(Errc::kNeedMore);
  out.port = read_port(in.data() + address_end);
  return Decoded<net::Destination>{std::move(out), address_end + 2};
}

std::size_t address_size(const net::Address& address) {
  if (address.is_ip()) return 2 + 1 + (address.ip().is_v4() ? 4 : 16);
  const std::size_t len = address.domain().size();
  if (len == 0 || len > 255) return 0;
  return 2 + 1 + 1 + len;
}

std::size_t encode_address(const net::Destination& to, AddressLayout layout,
                           std::span<std::uint8_t> out) {
  const std::size_t size = address_size(to.address);
  if (size == 0 || out.size() < size) return 0;
  const AtypSet& set = atyps(layout);
  const bool port_first = layout == AddressLayout::kPortFirst;
  std::size_t at = 0;
  auto put_port = [&] {
    out[at++] = static_cast<std::uint8_t>(to.port >> 8);
    out[at++] = static_cast<std::uint8_t>(to.port & 0xFF);
  };
  if (port_first) put_port();
  if (to.address.is_ip() && to.address.ip().is_v4()) {
    out[at++] = set.ipv4;
    auto bytes = to.address.ip().to_v4().to_bytes();
    std::memcpy(out.data() + at, bytes.data(), bytes.size());
    at += bytes.size();
  } else if (to.address.is_ip()) {
    out[at++] = set.ipv6;
    auto bytes = to.address.ip().to_v6().to_bytes();
    std::memcpy(out.data() + at, bytes.data(), bytes.size());
    at += bytes.size();
  } else {
    const std::string& name = to.address.domain();
    out[at++] = set.domain;
    out[at++] = static_cast<std::uint8_t>(name.size());
    std::memcpy(out.data() + at, name.data(), name.size());
    at += name.size();
  }
  if (!port_first) put_port();
  return at;
}

}  // namespace xsup::worker::proxy
