#pragma once
// Trojan wire formats as pure functions (spec/trojan.md; STYLE.md §2): the request
// (hex SHA-224 key, CRLF, command, SOCKS5-order address, CRLF) and the UDP packet frame.
//
// Parsers take the bytes received so far and return the value with the bytes used,
// Errc::kNeedMore for a valid but incomplete prefix, or Errc::kProtocol / kTooLarge with a
// static reason.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "shared/base/error.h"
#include "shared/net/destination.h"
#include "worker/proxy/address_codec.h"

namespace xsup::worker::proxy::trojan {

using base::Expected;

// spec/trojan.md §1: 56 lowercase hex digits of SHA-224(password).
inline constexpr std::size_t kKeySize = 56;
using Key = std::array<char, kKeySize>;
// spec/trojan.md §4: fewer first bytes than this (key + CRLF) are not Trojan.
inline constexpr std::size_t kMinFirstBytes = kKeySize + 2;
// KEY CRLF CMD, the longest SOCKS5 address (ATYP LEN 255 PORT), CRLF.
inline constexpr std::size_t kMaxRequestSize = kKeySize + 2 + 1 + (1 + 1 + 255 + 2) + 2;
// spec/trojan.md §3: Xray's reader refuses longer datagrams ("oversize payload").
inline constexpr std::size_t kMaxDatagram = 8192;
// ADDRESS LENGTH(2) CRLF.
inline constexpr std::size_t kMaxUdpHeader = (1 + 1 + 255 + 2) + 2 + 2;

enum class Command : std::uint8_t { kConnect = 0x01, kUdpAssociate = 0x03 };

// The key of a password: lowercase hex of its SHA-224.
Key password_key(std::string_view password);

// spec/trojan.md §4 step 2: the key of a first buffer, or kProtocol when it is not
// Trojan-shaped (under 58 bytes, or no CR at offset 56). It does not wait for more bytes.
Expected<std::string_view> peek_key(std::span<const std::uint8_t> first);

struct Request {
  Key key{};
  Command command = Command::kConnect;  // any CMD but 3 is CONNECT, as Xray reads it
  net::Destination target;              // network tcp or udp
};

Expected<Decoded<Request>> parse_request(std::span<const std::uint8_t> in);
// Writes the request into `out` (at least kMaxRequestSize bytes); 0 when the target
// cannot be encoded.
std::size_t encode_request(const Request& request, std::span<std::uint8_t> out);

struct UdpPacket {
  net::Destination address;  // network udp
  std::size_t payload_offset = 0;
  std::size_t payload_size = 0;
};
// spec/trojan.md §3: ADDRESS LENGTH(2) CRLF PAYLOAD; `consumed` covers the payload.
Expected<Decoded<UdpPacket>> parse_udp_packet(std::span<const std::uint8_t> in);
// Writes ADDRESS LENGTH CRLF for a payload of `size` bytes; 0 when it cannot.
std::size_t encode_udp_header(const net::Destination& address, std::size_t size,
                              std::span<std::uint8_t> out);

}  // namespace xsup::worker::proxy::trojan
