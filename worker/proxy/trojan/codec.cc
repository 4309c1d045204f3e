#include "worker/proxy/trojan/codec.h"

#include <openssl/evp.h>

#include <cstring>

namespace xsup::worker::proxy::trojan {
namespace {

using base::Errc;
using base::Error;

constexpr std::uint8_t kCr = 0x0D;
constexpr std::uint8_t kLf = 0x0A;

bool crlf_at(std::span<const std::uint8_t> in, std::size_t at) {
  return in[at] == kCr && in[at + 1] == kLf;
}

}  // namespace

Key password_key(std::string_view password) {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  Key key{};
  if (EVP_Digest(password.data(), password.size(), digest, &size, EVP_sha224(), nullptr) != 1 ||
      size * 2 != kKeySize) {
    return key;  // all NULs: matches no client (a client's key is hex)
  }
  for (unsigned int i = 0; i < size; ++i) {
    key[2 * i] = kHex[digest[i] >> 4];
    key[2 * i + 1] = kHex[digest[i] & 15];
  }
  return key;
}

Expected<std::string_view> peek_key(std::span<const std::uint8_t> first) {
  if (first.size() < kMinFirstBytes || first[kKeySize] != kCr) {
    return Error(Errc::kProtocol, "not trojan protocol");
  }
  return std::string_view(reinterpret_cast<const char*>(first.data()), kKeySize);
}

Expected<Decoded<Request>> parse_request(std::span<const std::uint8_t> in) {
  if (in.size() < kKeySize + 2) return Error(Errc::kNeedMore);
  if (!crlf_at(in, kKeySize)) return Error(Errc::kProtocol, "missing CRLF after the key");
  Request out;
  std::memcpy(out.key.data(), in.data(), kKeySize);
  std::size_t at = kKeySize + 2;
  if (in.size() < at + 1) return Error(Errc::kNeedMore);
  out.command = in[at++] == static_cast<std::uint8_t>(Command::kUdpAssociate)
                    ? Command::kUdpAssociate
                    : Command::kConnect;
  auto target = parse_address(in.subspan(at), AddressLayout::kSocks);
  if (!target) return target.error();
  out.target = std::move(target->value);
  out.target.network =
      out.command == Command::kUdpAssociate ? net::Network::kUdp : net::Network::kTcp;
  at += target->consumed;
  if (in.size() < at + 2) return Error(Errc::kNeedMore);
  if (!crlf_at(in, at)) return Error(Errc::kProtocol, "missing CRLF after the address");
  return Decoded<Request>{std::move(out), at + 2};
}

std::size_t encode_request(const Request& request, std::span<std::uint8_t> out) {
  if (out.size() < kMaxRequestSize) return 0;
  std::memcpy(out.data(), request.key.data(), kKeySize);
  std::size_t at = kKeySize;
  out[at++] = kCr;
  out[at++] = kLf;
  out[at++] = static_cast<std::uint8_t>(request.command);
  const std::size_t n = encode_address(request.target, AddressLayout::kSocks, out.subspan(at));
  if (n == 0) return 0;
  at += n;
  out[at++] = kCr;
  out[at++] = kLf;
  return at;
}

Expected<Decoded<UdpPacket>> parse_udp_packet(std::span<const std::uint8_t> in) {
  auto address = parse_address(in, AddressLayout::kSocks);
  if (!address) return address.error();
  std::size_t at = address->consumed;
  if (in.size() < at + 4) return Error(Errc::kNeedMore);
  const std::size_t size = (static_cast<std::size_t>(in[at]) << 8) | in[at + 1];
  if (size > kMaxDatagram) return Error(Errc::kTooLarge, "oversize payload");
  if (!crlf_at(in, at + 2)) return Error(Errc::kProtocol, "missing CRLF in UDP packet");
  at += 4;
  if (in.size() < at + size) return Error(Errc::kNeedMore);
  UdpPacket packet{std::move(address->value), at, size};
  packet.address.network = net::Network::kUdp;
  return Decoded<UdpPacket>{std::move(packet), at + size};
}

std::size_t encode_udp_header(const net::Destination& address, std::size_t size,
                              std::span<std::uint8_t> out) {
  if (size > 0xFFFF) return 0;
  const std::size_t n = encode_address(address, AddressLayout::kSocks, out);
  if (n == 0 || out.size() < n + 4) return 0;
  out[n] = static_cast<std::uint8_t>(size >> 8);
  out[n + 1] = static_cast<std::uint8_t>(size & 0xFF);
  out[n + 2] = kCr;
  out[n + 3] = kLf;
  return n + 4;
}

}  // namespace xsup::worker::proxy::trojan
