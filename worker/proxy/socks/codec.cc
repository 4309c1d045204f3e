#include "worker/proxy/socks/codec.h"

#include <algorithm>
#include <cstring>

namespace xsup::worker::proxy::socks {
namespace {

using base::Errc;
using base::Error;

std::uint16_t read_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

void write_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v & 0xFF);
}

Error need_more() { return Error(Errc::kNeedMore); }

struct AddressPort {
  net::Address address;
  std::uint16_t port = 0;
};

// RFC 1928 §5: ATYP DST.ADDR DST.PORT, shared by requests, replies and UDP headers.
Expected<Parsed<AddressPort>> parse_address(std::span<const std::uint8_t> in) {
  if (in.empty()) return need_more();
  AddressPort out;
  std::size_t at = 1;
  switch (in[0]) {
    case kAtypIpv4: {
      if (in.size() < at + 4 + 2) return need_more();
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), in.data() + at, b.size());
      out.address = net::Address(asio::ip::address(asio::ip::address_v4(b)));
      at += 4;
      break;
    }
    case kAtypIpv6: {
      if (in.size() < at + 16 + 2) return need_more();
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), in.data() + at, b.size());
      asio::ip::address_v6 v6(b);
      // A v4-mapped address means the IPv4 host, as net::Address::parse decides too.
      if (v6.is_v4_mapped()) {
        out.address =
            net::Address(asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, v6)));
      } else {
        out.address = net::Address(asio::ip::address(v6));
      }
      at += 16;
      break;
    }
    case kAtypDomain: {
      if (in.size() < 2) return need_more();
      std::size_t len = in[1];
      if (len == 0) return Error(Errc::kProtocol, "empty domain");
      at = 2;
      if (in.size() < at + len + 2) return need_more();
      std::string_view name(reinterpret_cast<const char*>(in.data() + at), len);
      if (name.find('\0') != std::string_view::npos) {
        return Error(Errc::kProtocol, "NUL in domain");
      }
      // A domain that is an IP literal becomes that IP (as Xray's ParseAddress).
      out.address = net::Address::parse(name);
      if (out.address.empty()) return Error(Errc::kProtocol, "empty domain");
      at += len;
      break;
    }
    default:
      return Error(Errc::kProtocol, "unknown address type");
  }
  out.port = read_u16(in.data() + at);
  return Parsed<AddressPort>{std::move(out), at + 2};
}

// The encoded size of ATYP DST.ADDR DST.PORT; 0 when the address cannot be encoded.
std::size_t address_size(const net::Address& address) {
  if (address.is_ip()) return address.ip().is_v4() ? 1 + 4 + 2 : 1 + 16 + 2;
  std::size_t len = address.domain().size();
  if (len == 0 || len > 255) return 0;
  return 1 + 1 + len + 2;
}

// Writes ATYP DST.ADDR DST.PORT; `out` holds at least address_size(address) bytes.
void write_address(const net::Address& address, std::uint16_t port, std::uint8_t* out) {
  std::size_t at = 0;
  if (address.is_ip() && address.ip().is_v4()) {
    out[at++] = kAtypIpv4;
    auto b = address.ip().to_v4().to_bytes();
    std::memcpy(out + at, b.data(), b.size());
    at += b.size();
  } else if (address.is_ip()) {
    out[at++] = kAtypIpv6;
    auto b = address.ip().to_v6().to_bytes();
    std::memcpy(out + at, b.data(), b.size());
    at += b.size();
  } else {
    const std::string& name = address.domain();
    out[at++] = kAtypDomain;
    out[at++] = static_cast<std::uint8_t>(name.size());
    std::memcpy(out + at, name.data(), name.size());
    at += name.size();
  }
  write_u16(out + at, port);
}

// Reads a NUL-terminated field of at most kMaxSocks4Field bytes starting at `at`.
// Returns the field's length (without the NUL).
Expected<std::size_t> read_nul_field(std::span<const std::uint8_t> in, std::size_t at,
                                     std::string_view too_long) {
  std::size_t limit = std::min(in.size(), at + kMaxSocks4Field + 1);
  for (std::size_t i = at; i < limit; ++i) {
    if (in[i] == 0) return i - at;
  }
  if (in.size() > at + kMaxSocks4Field) return Error(Errc::kProtocol, too_long);
  return need_more();
}

}  // namespace

Expected<Parsed<Greeting>> parse_greeting(std::span<const std::uint8_t> in) {
  if (in.empty()) return need_more();
  if (in[0] != kVersion5) return Error(Errc::kProtocol, "not SOCKS5");
  if (in.size() < 2) return need_more();
  std::size_t n = in[1];
  if (n == 0) return Error(Errc::kProtocol, "no authentication method offered");
  if (in.size() < 2 + n) return need_more();
  Greeting g;
  for (std::size_t i = 0; i < n; ++i) g.methods.set(in[2 + i]);
  return Parsed<Greeting>{g, 2 + n};
}

Bytes<2> encode_method_choice(std::uint8_t method) {
  Bytes<2> out;
  out.data = {kVersion5, method};
  out.size = 2;
  return out;
}

Expected<Parsed<Credentials>> parse_credentials(std::span<const std::uint8_t> in) {
  if (in.empty()) return need_more();
  if (in[0] != kAuthVersion) return Error(Errc::kProtocol, "bad authentication version");
  if (in.size() < 2) return need_more();
  std::size_t ulen = in[1];
  if (in.size() < 2 + ulen + 1) return need_more();
  std::size_t plen = in[2 + ulen];
  std::size_t total = 3 + ulen + plen;
  if (in.size() < total) return need_more();
  Credentials c;
  c.user.assign(reinterpret_cast<const char*>(in.data() + 2), ulen);
  c.pass.assign(reinterpret_cast<const char*>(in.data() + 3 + ulen), plen);
  return Parsed<Credentials>{std::move(c), total};
}

Bytes<2> encode_auth_status(bool success) {
  Bytes<2> out;
  // RFC 1929 §2: 0x00 is success; any other value is failure.
  out.data = {kAuthVersion, static_cast<std::uint8_t>(success ? 0x00 : 0x01)};
  out.size = 2;
  return out;
}

Expected<Parsed<Request>> parse_request(std::span<const std::uint8_t> in) {
  if (in.empty()) return need_more();
  if (in[0] != kVersion5) return Error(Errc::kProtocol, "bad request version");
  if (in.size() < 3) return need_more();
  // RSV (in[2]) is ignored, as Xray does.
  auto addr = parse_address(in.subspan(3));
  if (!addr) return addr.error();
  Request r;
  r.command = static_cast<Command>(in[1]);
  r.address = std::move(addr->value.address);
  r.port = addr->value.port;
  return Parsed<Request>{std::move(r), 3 + addr->consumed};
}

Expected<Bytes<3 + kMaxAddressSize>> encode_reply(Reply reply, const net::Address& bound,
                                                  std::uint16_t port) {
  std::size_t size = address_size(bound);
  if (size == 0) return Error(Errc::kProtocol, "address cannot be encoded");
  Bytes<3 + kMaxAddressSize> out;
  out.data[0] = kVersion5;
  out.data[1] = static_cast<std::uint8_t>(reply);
  out.data[2] = 0x00;
  write_address(bound, port, out.data.data() + 3);
  out.size = 3 + size;
  return out;
}

Expected<Parsed<Request4>> parse_request4(std::span<const std::uint8_t> in) {
  if (in.empty()) return need_more();
  if (in[0] != kVersion4) return Error(Errc::kProtocol, "not SOCKS4");
  // VN CD DSTPORT(2) DSTIP(4)
  constexpr std::size_t kFixed = 8;
  if (in.size() < kFixed) return need_more();
  Request4 r;
  r.command = in[1];
  r.port = read_u16(in.data() + 2);
  asio::ip::address_v4::bytes_type ip;
  std::memcpy(ip.data(), in.data() + 4, ip.size());

  auto user_len = read_nul_field(in, kFixed, "SOCKS4 user id too long");
  if (!user_len) return user_len.error();
  r.user_id.assign(reinterpret_cast<const char*>(in.data() + kFixed), *user_len);
  std::size_t at = kFixed + *user_len + 1;

  // SOCKS4a: DSTIP 0.0.0.x with x != 0 says a domain follows the user id.
  bool is_4a = ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0;
  if (!is_4a) {
    r.address = net::Address(asio::ip::address(asio::ip::address_v4(ip)));
    return Parsed<Request4>{std::move(r), at};
  }
  auto domain_len = read_nul_field(in, at, "SOCKS4a domain too long");
  if (!domain_len) return domain_len.error();
  if (*domain_len == 0) return Error(Errc::kProtocol, "empty domain");
  r.address = net::Address::parse(
      std::string_view(reinterpret_cast<const char*>(in.data() + at), *domain_len));
  if (r.address.empty()) return Error(Errc::kProtocol, "empty domain");
  return Parsed<Request4>{std::move(r), at + *domain_len + 1};
}

Bytes<8> encode_reply4(bool granted, std::uint16_t port, asio::ip::address_v4 ip) {
  Bytes<8> out;
  out.data[0] = 0x00;  // the reply's VN is 0
  out.data[1] = granted ? kSocks4Granted : kSocks4Rejected;
  write_u16(out.data.data() + 2, port);
  auto b = ip.to_bytes();
  std::memcpy(out.data.data() + 4, b.data(), b.size());
  out.size = 8;
  return out;
}

Expected<Parsed<net::Destination>> parse_udp_header(std::span<const std::uint8_t> in) {
  if (in.size() < 3) return need_more();
  if (in[2] != 0) return Error(Errc::kProtocol, "fragmented datagram");
  auto addr = parse_address(in.subspan(3));
  if (!addr) return addr.error();
  net::Destination d{net::Network::kUdp, std::move(addr->value.address), addr->value.port};
  return Parsed<net::Destination>{std::move(d), 3 + addr->consumed};
}

std::size_t udp_header_size(const net::Address& address) {
  std::size_t size = address_size(address);
  return size == 0 ? 0 : 3 + size;
}

std::size_t encode_udp_header(const net::Address& address, std::uint16_t port,
                              std::span<std::uint8_t> out) {
  std::size_t size = udp_header_size(address);
  if (size == 0 || out.size() < size) return 0;
  out[0] = 0x00;
  out[1] = 0x00;
  out[2] = 0x00;  // FRAG: standalone datagram
  write_address(address, port, out.data() + 3);
  return size;
}

Bytes<3> encode_greeting(std::uint8_t method) {
  Bytes<3> out;
  out.data = {kVersion5, 0x01, method};
  out.size = 3;
  return out;
}

Expected<Bytes<3 + 255 + 255>> encode_credentials(std::string_view user, std::string_view pass) {
  if (user.size() > 255 || pass.size() > 255) {
    return Error(Errc::kProtocol, "user name or password over 255 bytes");
  }
  Bytes<3 + 255 + 255> out;
  std::uint8_t* p = out.data.data();
  *p++ = kAuthVersion;
  *p++ = static_cast<std::uint8_t>(user.size());
  std::memcpy(p, user.data(), user.size());
  p += user.size();
  *p++ = static_cast<std::uint8_t>(pass.size());
  std::memcpy(p, pass.data(), pass.size());
  p += pass.size();
  out.size = static_cast<std::size_t>(p - out.data.data());
  return out;
}

Expected<Bytes<3 + kMaxAddressSize>> encode_request(Command command, const net::Address& address,
                                                    std::uint16_t port) {
  std::size_t size = address_size(address);
  if (size == 0) return Error(Errc::kProtocol, "domain empty or over 255 bytes");
  Bytes<3 + kMaxAddressSize> out;
  out.data[0] = kVersion5;
  out.data[1] = static_cast<std::uint8_t>(command);
  out.data[2] = 0x00;
  write_address(address, port, out.data.data() + 3);
  out.size = 3 + size;
  return out;
}

Expected<Parsed<std::uint8_t>> parse_method_choice(std::span<const std::uint8_t> in) {
  if (in.empty()) return need_more();
  if (in[0] != kVersion5) return Error(Errc::kProtocol, "server is not SOCKS5");
  if (in.size() < 2) return need_more();
  return Parsed<std::uint8_t>{in[1], 2};
}

Expected<Parsed<std::uint8_t>> parse_auth_status(std::span<const std::uint8_t> in) {
  if (in.empty()) return need_more();
  if (in[0] != kAuthVersion) return Error(Errc::kProtocol, "bad authentication version");
  if (in.size() < 2) return need_more();
  return Parsed<std::uint8_t>{in[1], 2};
}

Expected<Parsed<ServerReply>> parse_reply(std::span<const std::uint8_t> in) {
  if (in.empty()) return need_more();
  if (in[0] != kVersion5) return Error(Errc::kProtocol, "bad reply version");
  if (in.size() < 3) return need_more();
  auto addr = parse_address(in.subspan(3));
  if (!addr) return addr.error();
  ServerReply r;
  r.reply = static_cast<Reply>(in[1]);
  r.address = std::move(addr->value.address);
  r.port = addr->value.port;
  return Parsed<ServerReply>{std::move(r), 3 + addr->consumed};
}

std::string_view to_string(Reply reply) {
  switch (reply) {
    case Reply::kSucceeded:
      return "succeeded";
    case Reply::kGeneralFailure:
      return "general SOCKS server failure";
    case Reply::kNotAllowed:
      return "connection not allowed by ruleset";
    case Reply::kNetworkUnreachable:
      return "network unreachable";
    case Reply::kHostUnreachable:
      return "host unreachable";
    case Reply::kConnectionRefused:
      return "connection refused";
    case Reply::kTtlExpired:
      return "TTL expired";
    case Reply::kCommandNotSupported:
      return "command not supported";
    case Reply::kAddressTypeNotSupported:
      return "address type not supported";
  }
  return "unknown reply code";
}

}  // namespace xsup::worker::proxy::socks
