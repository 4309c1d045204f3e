#pragma once
// SOCKS wire formats as pure functions (STYLE.md §2): SOCKS5 (RFC 1928), username/password
// authentication (RFC 1929), SOCKS4 and SOCKS4a, and the SOCKS5 UDP datagram header.
//
// Every parser takes the bytes received so far and returns the decoded value with the
// number of bytes it used, Errc::kNeedMore when the bytes are a valid but incomplete
// prefix, or Errc::kProtocol with a static reason. Parsers are bounded (no field is longer
// than 255 bytes) and total. Encoders write into fixed-size arrays: no allocation.

#include <array>
#include <asio/ip/address.hpp>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "shared/base/error.h"
#include "shared/net/destination.h"

namespace xsup::worker::proxy::socks {

using base::Expected;

// RFC 1928 §3: protocol version of every SOCKS5 message.
inline constexpr std::uint8_t kVersion5 = 0x05;
// SOCKS4 protocol (VN field of the request).
inline constexpr std::uint8_t kVersion4 = 0x04;
// RFC 1929 §2: version of the username/password subnegotiation.
inline constexpr std::uint8_t kAuthVersion = 0x01;

// RFC 1928 §3: authentication methods.
inline constexpr std::uint8_t kMethodNoAuth = 0x00;
inline constexpr std::uint8_t kMethodPassword = 0x02;
inline constexpr std::uint8_t kMethodNoAcceptable = 0xFF;

// RFC 1928 §4 (and Tor's extensions, which Xray treats as CONNECT).
enum class Command : std::uint8_t {
  kConnect = 0x01,
  kBind = 0x02,
  kUdpAssociate = 0x03,
  kTorResolve = 0xF0,
  kTorResolvePtr = 0xF1,
};

// RFC 1928 §6: the REP field.
enum class Reply : std::uint8_t {
  kSucceeded = 0x00,
  kGeneralFailure = 0x01,
  kNotAllowed = 0x02,
  kNetworkUnreachable = 0x03,
  kHostUnreachable = 0x04,
  kConnectionRefused = 0x05,
  kTtlExpired = 0x06,
  kCommandNotSupported = 0x07,
  kAddressTypeNotSupported = 0x08,
};

// RFC 1928 §5: ATYP.
inline constexpr std::uint8_t kAtypIpv4 = 0x01;
inline constexpr std::uint8_t kAtypDomain = 0x03;
inline constexpr std::uint8_t kAtypIpv6 = 0x04;

// ATYP + the longest address (a 255-byte domain with its length byte) + PORT.
inline constexpr std::size_t kMaxAddressSize = 1 + 1 + 255 + 2;
// RFC 1928 §7: RSV(2) FRAG(1) + address.
inline constexpr std::size_t kMaxUdpHeaderSize = 3 + kMaxAddressSize;
// SOCKS4: the user id (and the SOCKS4a domain) end with NUL; longer ones are refused.
inline constexpr std::size_t kMaxSocks4Field = 255;

// SOCKS4 reply codes (the CD field of the reply).
inline constexpr std::uint8_t kSocks4Granted = 0x5A;
inline constexpr std::uint8_t kSocks4Rejected = 0x5B;

template <class T>
struct Parsed {
  T value;
  std::size_t consumed = 0;
};

// Encoded bytes in a fixed array.
template <std::size_t N>
struct Bytes {
  std::array<std::uint8_t, N> data{};
  std::size_t size = 0;

  std::span<const std::uint8_t> span() const { return {data.data(), size}; }
};

// ---- server side -------------------------------------------------------------------------

// RFC 1928 §3: VER NMETHODS METHODS.
struct Greeting {
  std::bitset<256> methods;
  bool offers(std::uint8_t method) const { return methods.test(method); }
};
Expected<Parsed<Greeting>> parse_greeting(std::span<const std::uint8_t> in);
Bytes<2> encode_method_choice(std::uint8_t method);

// RFC 1929 §2: VER ULEN UNAME PLEN PASSWD. Empty fields parse (lenient, as Xray): they
// simply match no account.
struct Credentials {
  std::string user;
  std::string pass;
};
Expected<Parsed<Credentials>> parse_credentials(std::span<const std::uint8_t> in);
// RFC 1929 §2: VER STATUS, 0x00 = success.
Bytes<2> encode_auth_status(bool success);

// RFC 1928 §4: VER CMD RSV ATYP DST.ADDR DST.PORT. An unknown CMD parses (the server
// answers it with Reply::kCommandNotSupported); an unknown ATYP does not.
struct Request {
  Command command = Command::kConnect;
  net::Address address;
  std::uint16_t port = 0;
};
Expected<Parsed<Request>> parse_request(std::span<const std::uint8_t> in);
// RFC 1928 §6: VER REP RSV ATYP BND.ADDR BND.PORT. Fails only for a domain over 255 bytes.
Expected<Bytes<3 + kMaxAddressSize>> encode_reply(Reply reply, const net::Address& bound,
                                                  std::uint16_t port);

// SOCKS4: VN CD DSTPORT DSTIP USERID NUL, and for SOCKS4a (DSTIP 0.0.0.x, x != 0) a
// domain and NUL after the user id.
struct Request4 {
  std::uint8_t command = 0;  // 1 CONNECT, 2 BIND
  net::Address address;
  std::uint16_t port = 0;
  std::string user_id;
};
Expected<Parsed<Request4>> parse_request4(std::span<const std::uint8_t> in);
// SOCKS4 reply: VN(0) CD DSTPORT DSTIP.
Bytes<8> encode_reply4(bool granted, std::uint16_t port, asio::ip::address_v4 ip);

// ---- UDP (RFC 1928 §7) -------------------------------------------------------------------

// RSV RSV FRAG ATYP DST.ADDR DST.PORT; the payload follows `consumed` bytes. A fragment
// (FRAG != 0) is refused: Xray does not reassemble either. The destination's network is udp.
Expected<Parsed<net::Destination>> parse_udp_header(std::span<const std::uint8_t> in);
// The size of the header that carries `address`; 0 for a domain over 255 bytes.
std::size_t udp_header_size(const net::Address& address);
// Writes the header for `from` at the start of `out`; returns its size, 0 when `out` is
// too small or the address cannot be encoded.
std::size_t encode_udp_header(const net::Address& address, std::uint16_t port,
                              std::span<std::uint8_t> out);

// ---- client side -------------------------------------------------------------------------

// VER NMETHODS(1) METHOD: a client that offers exactly one method.
Bytes<3> encode_greeting(std::uint8_t method);
// Fails for a user name or password over 255 bytes. RFC 1929 §2 asks for 1..255; empty
// ones are sent as they are, as Xray does, and the server decides.
Expected<Bytes<3 + 255 + 255>> encode_credentials(std::string_view user, std::string_view pass);
// Fails for a domain that is empty or over 255 bytes.
Expected<Bytes<3 + kMaxAddressSize>> encode_request(Command command, const net::Address& address,
                                                    std::uint16_t port);
// The server's VER METHOD.
Expected<Parsed<std::uint8_t>> parse_method_choice(std::span<const std::uint8_t> in);
// The server's VER STATUS; the value is STATUS.
Expected<Parsed<std::uint8_t>> parse_auth_status(std::span<const std::uint8_t> in);

struct ServerReply {
  Reply reply = Reply::kSucceeded;
  net::Address address;
  std::uint16_t port = 0;
};
Expected<Parsed<ServerReply>> parse_reply(std::span<const std::uint8_t> in);

// The text of a REP code, for logs.
std::string_view to_string(Reply reply);

}  // namespace xsup::worker::proxy::socks
