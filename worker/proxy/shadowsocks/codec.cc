#include "worker/proxy/shadowsocks/codec.h"

#include <algorithm>
#include <cstring>

namespace xsup::worker::proxy::shadowsocks {
namespace {

using base::Errc;
using base::Error;

constexpr std::uint8_t kAtypIpv4 = 0x01;
constexpr std::uint8_t kAtypDomain = 0x03;
constexpr std::uint8_t kAtypIpv6 = 0x04;

std::uint16_t read_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

void write_u16(std::uint8_t* p, std::size_t v) {
  p[0] = static_cast<std::uint8_t>((v >> 8) & 0xFF);
  p[1] = static_cast<std::uint8_t>(v & 0xFF);
}

std::span<const std::uint8_t, kTagSize> tag_at(const std::uint8_t* p) {
  return std::span<const std::uint8_t, kTagSize>(p, kTagSize);
}

std::span<std::uint8_t, kTagSize> tag_at(std::uint8_t* p) {
  return std::span<std::uint8_t, kTagSize>(p, kTagSize);
}

}  // namespace

Expected<Parsed<net::Destination>> parse_address(std::span<const std::uint8_t> in,
                                                 net::Network network) {
  if (in.empty()) return Error(Errc::kNeedMore);
  net::Destination out;
  out.network = network;
  std::size_t at = 1;
  switch (in[0] & 0x0F) {
    case kAtypIpv4: {
      if (in.size() < at + 4 + 2) return Error(Errc::kNeedMore);
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), in.data() + at, b.size());
      out.address = net::Address(asio::ip::address(asio::ip::address_v4(b)));
      at += 4;
      break;
    }
    case kAtypIpv6: {
      if (in.size() < at + 16 + 2) return Error(Errc::kNeedMore);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), in.data() + at, b.size());
      asio::ip::address_v6 v6(b);
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
      if (in.size() < 2) return Error(Errc::kNeedMore);
      const std::size_t len = in[1];
      if (len == 0) return Error(Errc::kProtocol, "empty domain");
      at = 2;
      if (in.size() < at + len + 2) return Error(Errc::kNeedMore);
      std::string_view name(reinterpret_cast<const char*>(in.data() + at), len);
      if (name.find('\0') != std::string_view::npos) return Error(Errc::kProtocol, "NUL in domain");
      out.address = net::Address::parse(name);
      if (out.address.empty()) return Error(Errc::kProtocol, "empty domain");
      at += len;
      break;
    }
    default:
      return Error(Errc::kProtocol, "unknown address type");
  }
  out.port = read_u16(in.data() + at);
  return Parsed<net::Destination>{std::move(out), at + 2};
}

std::size_t address_size(const net::Address& address) {
  if (address.is_ip()) return address.ip().is_v4() ? 1 + 4 + 2 : 1 + 16 + 2;
  const std::size_t len = address.domain().size();
  if (len == 0 || len > 255) return 0;
  return 1 + 1 + len + 2;
}

std::size_t encode_address(const net::Address& address, std::uint16_t port,
                           std::span<std::uint8_t> out) {
  const std::size_t size = address_size(address);
  if (size == 0 || out.size() < size) return 0;
  std::uint8_t* p = out.data();
  if (address.is_ip() && address.ip().is_v4()) {
    *p++ = kAtypIpv4;
    const auto b = address.ip().to_v4().to_bytes();
    std::memcpy(p, b.data(), b.size());
    p += b.size();
  } else if (address.is_ip()) {
    *p++ = kAtypIpv6;
    const auto b = address.ip().to_v6().to_bytes();
    std::memcpy(p, b.data(), b.size());
    p += b.size();
  } else {
    *p++ = kAtypDomain;
    const std::string& name = address.domain();
    *p++ = static_cast<std::uint8_t>(name.size());
    std::memcpy(p, name.data(), name.size());
    p += name.size();
  }
  write_u16(p, port);
  return size;
}

Expected<Parsed<std::span<std::uint8_t>>> ChunkOpener::next(std::span<std::uint8_t> in) {
  if (!pending_) {
    if (in.size() < kLengthBlockSize) return Error(Errc::kNeedMore);
    if (!aead_.open(in.first(2), in.data(), tag_at(in.data() + 2))) {
      return Error(Errc::kProtocol, "bad chunk length tag");
    }
    const std::size_t length = read_u16(in.data());
    if (length > max_payload_) return Error(Errc::kProtocol, "chunk length over the limit");
    pending_ = length;
  }
  const std::size_t length = *pending_;
  const std::size_t head = bare_ ? 0 : kLengthBlockSize;
  const std::size_t total = head + length + kTagSize;
  if (in.size() < total) return Error(Errc::kNeedMore);
  std::span<std::uint8_t> payload = in.subspan(head, length);
  if (!aead_.open(payload, payload.data(), tag_at(payload.data() + length))) {
    return Error(Errc::kProtocol, "bad chunk payload tag");
  }
  pending_.reset();
  bare_ = false;
  return Parsed<std::span<std::uint8_t>>{payload, total};
}

Expected<Parsed<std::span<std::uint8_t>>> ChunkOpener::open_block(std::span<std::uint8_t> in,
                                                                  std::size_t size) {
  if (in.size() < size + kTagSize) return Error(Errc::kNeedMore);
  std::span<std::uint8_t> block = in.first(size);
  if (!aead_.open(block, block.data(), tag_at(block.data() + size))) {
    return Error(Errc::kProtocol, "bad header tag");
  }
  return Parsed<std::span<std::uint8_t>>{block, size + kTagSize};
}

bool first_chunk_opens(Method method, std::span<const std::uint8_t> subkey,
                       std::span<const std::uint8_t> length_block) {
  if (length_block.size() < kLengthBlockSize) return false;
  Aead aead(method, subkey, Aead::Direction::kOpen);
  std::uint8_t plain[2];
  return aead.open(length_block.first(2), plain, tag_at(length_block.data() + 2));
}

std::size_t seal_chunk(Aead& aead, std::span<std::uint8_t> out, std::size_t size) {
  if (size > 0xFFFF || out.size() < size + kChunkOverhead) return 0;
  write_u16(out.data(), size);
  if (!aead.seal(out.first(2), out.data(), tag_at(out.data() + 2))) return 0;
  std::span<std::uint8_t> payload = out.subspan(kLengthBlockSize, size);
  if (!aead.seal(payload, payload.data(), tag_at(payload.data() + size))) return 0;
  return size + kChunkOverhead;
}

Expected<std::span<std::uint8_t>> open_packet(Method method, std::span<const std::uint8_t> key,
                                              std::span<const std::uint8_t> packet,
                                              std::span<std::uint8_t> out) {
  const std::size_t salt_size = info(method).salt_size;
  if (packet.size() < salt_size + kTagSize || out.size() < packet.size()) {
    return Error(Errc::kProtocol, "packet too short");
  }
  const Key subkey = session_subkey(key, packet.first(salt_size));
  Aead aead(method, std::span<const std::uint8_t>(subkey.data(), key.size()),
            Aead::Direction::kOpen);
  const std::size_t size = packet.size() - salt_size - kTagSize;
  if (!aead.open(packet.subspan(salt_size, size), out.data(),
                 tag_at(packet.data() + salt_size + size))) {
    return Error(Errc::kProtocol, "bad packet tag");
  }
  return out.first(size);
}

std::size_t seal_packet_with_salt(Method method, std::span<const std::uint8_t> key,
                                  std::span<const std::uint8_t> salt, std::span<std::uint8_t> out,
                                  std::size_t size) {
  const std::size_t salt_size = info(method).salt_size;
  if (salt.size() != salt_size || out.size() < salt_size + size + kTagSize) return 0;
  std::memcpy(out.data(), salt.data(), salt_size);
  const Key subkey = session_subkey(key, salt);
  Aead aead(method, std::span<const std::uint8_t>(subkey.data(), key.size()),
            Aead::Direction::kSeal);
  std::span<std::uint8_t> plain = out.subspan(salt_size, size);
  if (!aead.seal(plain, plain.data(), tag_at(plain.data() + size))) return 0;
  return salt_size + size + kTagSize;
}

std::size_t seal_packet(Method method, std::span<const std::uint8_t> key,
                        std::span<std::uint8_t> out, std::size_t size) {
  std::array<std::uint8_t, kMaxSaltSize> salt{};
  const std::size_t salt_size = info(method).salt_size;
  random_bytes({salt.data(), salt_size});
  return seal_packet_with_salt(method, key, {salt.data(), salt_size}, out, size);
}

}  // namespace xsup::worker::proxy::shadowsocks
