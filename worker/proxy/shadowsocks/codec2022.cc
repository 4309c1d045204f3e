#include "worker/proxy/shadowsocks/codec2022.h"

#include <algorithm>
#include <cstring>

#include "worker/proxy/shadowsocks/blake3.h"

namespace xsup::worker::proxy::shadowsocks {
namespace {

using base::Errc;
using base::Error;

std::uint16_t get_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

void put_u16(std::uint8_t* p, std::size_t v) {
  p[0] = static_cast<std::uint8_t>((v >> 8) & 0xFF);
  p[1] = static_cast<std::uint8_t>(v & 0xFF);
}

bool in_time(std::uint64_t timestamp, std::int64_t now) {
  const auto t = static_cast<std::int64_t>(timestamp);
  return t >= now - kMaxTimeSkew && t <= now + kMaxTimeSkew;
}

std::span<std::uint8_t, kTagSize> tag_at(std::uint8_t* p) {
  return std::span<std::uint8_t, kTagSize>(p, kTagSize);
}

}  // namespace

void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v & 0xFF);
    v >>= 8;
  }
}

std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

PskHash psk_hash(std::span<const std::uint8_t> psk) {
  const Blake3::Digest d = Blake3::hash(psk);
  PskHash out;
  std::memcpy(out.data(), d.data(), out.size());
  return out;
}

Key identity_subkey(std::span<const std::uint8_t> psk, std::span<const std::uint8_t> salt) {
  std::array<std::uint8_t, kMaxKeySize + kMaxSaltSize> material{};
  std::memcpy(material.data(), psk.data(), psk.size());
  std::memcpy(material.data() + psk.size(), salt.data(), salt.size());
  Key out{};
  blake3_derive_key("shadowsocks 2022 identity subkey", {material.data(), psk.size() + salt.size()},
                    {out.data(), psk.size()});
  return out;
}

std::size_t encode_tcp_identity(std::span<const Key> psks, std::size_t key_size,
                                std::span<const std::uint8_t> salt, std::span<std::uint8_t> out) {
  if (psks.size() < 2) return 0;
  const std::size_t size = (psks.size() - 1) * kEihSize;
  if (out.size() < size) return 0;
  for (std::size_t i = 0; i + 1 < psks.size(); ++i) {
    const Key subkey = identity_subkey({psks[i].data(), key_size}, salt);
    const PskHash next = psk_hash({psks[i + 1].data(), key_size});
    if (!aes_ecb_block({subkey.data(), key_size}, next.data(), out.data() + i * kEihSize, true)) {
      return 0;
    }
  }
  return size;
}

bool decode_tcp_identity(std::span<const std::uint8_t> ipsk, std::span<const std::uint8_t> salt,
                         std::span<const std::uint8_t, kEihSize> eih, PskHash& out) {
  const Key subkey = identity_subkey(ipsk, salt);
  return aes_ecb_block({subkey.data(), ipsk.size()}, eih.data(), out.data(), false);
}

std::size_t seal_request_headers(Aead& sealer, std::uint64_t timestamp,
                                 const net::Destination& target, std::size_t padding,
                                 std::span<const std::uint8_t> payload,
                                 std::span<std::uint8_t> out) {
  const std::size_t address = address_size(target.address);
  if (address == 0 || (padding == 0 && payload.empty())) return 0;
  const std::size_t var_size = address + 2 + padding + payload.size();
  const std::size_t total = kFixedRequestSize + kTagSize + var_size + kTagSize;
  if (var_size > 0xFFFF || out.size() < total) return 0;
  std::uint8_t* fixed = out.data();
  fixed[0] = kTypeClient;
  put_u64(fixed + 1, timestamp);
  put_u16(fixed + 9, var_size);
  if (!sealer.seal({fixed, kFixedRequestSize}, fixed, tag_at(fixed + kFixedRequestSize))) return 0;
  std::uint8_t* var = fixed + kFixedRequestSize + kTagSize;
  encode_address(target.address, target.port, {var, address});
  put_u16(var + address, padding);
  std::memset(var + address + 2, 0, padding);
  if (!payload.empty()) std::memcpy(var + address + 2 + padding, payload.data(), payload.size());
  if (!sealer.seal({var, var_size}, var, tag_at(var + var_size))) return 0;
  return total;
}

Expected<std::size_t> parse_fixed_request(std::span<const std::uint8_t> plain, std::int64_t now) {
  if (plain.size() < kFixedRequestSize) return Error(Errc::kNeedMore);
  if (plain[0] != kTypeClient) return Error(Errc::kProtocol, "not a request header");
  if (!in_time(get_u64(plain.data() + 1), now)) return Error(Errc::kProtocol, "bad timestamp");
  const std::size_t length = get_u16(plain.data() + 9);
  if (length == 0) return Error(Errc::kProtocol, "empty variable header");
  return length;
}

Expected<VariableRequest> parse_variable_request(std::span<const std::uint8_t> plain) {
  auto address = parse_address(plain, net::Network::kTcp);
  if (!address) {
    if (address.error().is(Errc::kNeedMore)) return Error(Errc::kProtocol, "short header");
    return address.error();
  }
  std::size_t at = address->consumed;
  if (plain.size() < at + 2) return Error(Errc::kProtocol, "short header");
  const std::size_t padding = get_u16(plain.data() + at);
  at += 2;
  if (plain.size() < at + padding) return Error(Errc::kProtocol, "short padding");
  at += padding;
  if (padding == 0 && at == plain.size()) return Error(Errc::kProtocol, "no padding, no payload");
  return VariableRequest{std::move(address->value), at};
}

std::size_t encode_fixed_response(std::uint64_t timestamp,
                                  std::span<const std::uint8_t> request_salt,
                                  std::size_t payload_size, std::span<std::uint8_t> out) {
  const std::size_t size = fixed_response_size(request_salt.size());
  if (out.size() < size || payload_size > 0xFFFF) return 0;
  out[0] = kTypeServer;
  put_u64(out.data() + 1, timestamp);
  std::memcpy(out.data() + 9, request_salt.data(), request_salt.size());
  put_u16(out.data() + 9 + request_salt.size(), payload_size);
  return size;
}

Expected<std::size_t> parse_fixed_response(std::span<const std::uint8_t> plain, std::int64_t now,
                                           std::span<const std::uint8_t> request_salt) {
  if (plain.size() < fixed_response_size(request_salt.size())) return Error(Errc::kNeedMore);
  if (plain[0] != kTypeServer) return Error(Errc::kProtocol, "not a response header");
  if (!in_time(get_u64(plain.data() + 1), now)) return Error(Errc::kProtocol, "bad timestamp");
  if (!std::equal(request_salt.begin(), request_salt.end(), plain.begin() + 9)) {
    return Error(Errc::kProtocol, "response names another request");
  }
  return static_cast<std::size_t>(get_u16(plain.data() + 9 + request_salt.size()));
}

// ---- UDP ------------------------------------------------------------------------------------

std::size_t udp_prefix_size(Method method, std::size_t identity_headers) {
  if (method == Method::k2022Chacha20Poly1305) return kUdpChachaNonceSize + kSeparateHeaderSize;
  return kSeparateHeaderSize + identity_headers * kEihSize;
}

Key udp_session_key(Method method, std::span<const std::uint8_t> psk, std::uint64_t session_id) {
  std::uint8_t id[8];
  put_u64(id, session_id);
  return derive_session_key(method, psk, {id, sizeof id});
}

std::size_t seal_udp_chacha_with_nonce(std::span<const std::uint8_t> psk,
                                       std::span<const std::uint8_t, kUdpChachaNonceSize> nonce,
                                       const UdpPacketHeader& header, std::span<std::uint8_t> out,
                                       std::size_t size) {
  const std::size_t prefix = kUdpChachaNonceSize + kSeparateHeaderSize;
  if (out.size() < prefix + size + kTagSize) return 0;
  std::memcpy(out.data(), nonce.data(), nonce.size());
  std::uint8_t* sealed = out.data() + kUdpChachaNonceSize;
  put_u64(sealed, header.session_id);
  put_u64(sealed + 8, header.packet_id);
  Aead aead(Method::kXChacha20Poly1305, psk, Aead::Direction::kSeal);
  aead.set_nonce(nonce);
  const std::size_t n = kSeparateHeaderSize + size;
  if (!aead.seal({sealed, n}, sealed, tag_at(sealed + n))) return 0;
  return prefix + size + kTagSize;
}

std::size_t seal_udp_packet(Method method, std::span<const Key> psks,
                            std::span<const std::uint8_t> body_key, const UdpPacketHeader& header,
                            std::span<std::uint8_t> out, std::size_t size) {
  if (psks.empty()) return 0;
  const std::size_t key_size = info(method).key_size;
  if (method == Method::k2022Chacha20Poly1305) {
    std::array<std::uint8_t, kUdpChachaNonceSize> nonce{};
    random_bytes(nonce);
    return seal_udp_chacha_with_nonce({psks.back().data(), key_size}, nonce, header, out, size);
  }
  const std::size_t identities = psks.size() - 1;
  const std::size_t prefix = udp_prefix_size(method, identities);
  if (out.size() < prefix + size + kTagSize) return 0;
  std::uint8_t plain[kSeparateHeaderSize];
  put_u64(plain, header.session_id);
  put_u64(plain + 8, header.packet_id);
  // The body first: its nonce is the plaintext separate header.
  Aead aead(method, body_key, Aead::Direction::kSeal);
  aead.set_nonce({plain + 4, 12});
  std::uint8_t* body = out.data() + prefix;
  if (!aead.seal({body, size}, body, tag_at(body + size))) return 0;
  for (std::size_t i = 0; i < identities; ++i) {
    const PskHash next = psk_hash({psks[i + 1].data(), key_size});
    std::uint8_t block[16];
    for (int b = 0; b < 16; ++b) block[b] = next[b] ^ plain[b];
    if (!aes_ecb_block({psks[i].data(), key_size}, block,
                       out.data() + kSeparateHeaderSize + i * kEihSize, true)) {
      return 0;
    }
  }
  if (!aes_ecb_block({psks.front().data(), key_size}, plain, out.data(), true)) return 0;
  return prefix + size + kTagSize;
}

bool open_udp_separate_header(std::span<const std::uint8_t> key, const std::uint8_t in[16],
                              std::uint8_t plain[16], UdpPacketHeader& out) {
  if (!aes_ecb_block(key, in, plain, false)) return false;
  out.session_id = get_u64(plain);
  out.packet_id = get_u64(plain + 8);
  return true;
}

bool decode_udp_identity(std::span<const std::uint8_t> ipsk, const std::uint8_t eih[16],
                         const std::uint8_t separate_plain[16], PskHash& out) {
  std::uint8_t block[16];
  if (!aes_ecb_block(ipsk, eih, block, false)) return false;
  for (int b = 0; b < 16; ++b) out[b] = block[b] ^ separate_plain[b];
  return true;
}

Expected<std::span<std::uint8_t>> open_udp_body(Method method,
                                                std::span<const std::uint8_t> body_key,
                                                const std::uint8_t separate_plain[16],
                                                std::span<std::uint8_t> body) {
  if (body.size() < kTagSize) return Error(Errc::kProtocol, "packet too short");
  const std::size_t size = body.size() - kTagSize;
  Aead aead(method, body_key, Aead::Direction::kOpen);
  aead.set_nonce({separate_plain + 4, 12});
  if (!aead.open(body.first(size), body.data(),
                 std::span<const std::uint8_t, kTagSize>(body.data() + size, kTagSize))) {
    return Error(Errc::kProtocol, "bad packet tag");
  }
  return body.first(size);
}

Expected<std::span<std::uint8_t>> open_udp_chacha(std::span<const std::uint8_t> psk,
                                                  std::span<std::uint8_t> packet,
                                                  UdpPacketHeader& header) {
  if (packet.size() < kUdpChachaNonceSize + kSeparateHeaderSize + kTagSize) {
    return Error(Errc::kProtocol, "packet too short");
  }
  Aead aead(Method::kXChacha20Poly1305, psk, Aead::Direction::kOpen);
  aead.set_nonce(packet.first(kUdpChachaNonceSize));
  std::span<std::uint8_t> sealed = packet.subspan(kUdpChachaNonceSize);
  const std::size_t size = sealed.size() - kTagSize;
  if (!aead.open(sealed.first(size), sealed.data(),
                 std::span<const std::uint8_t, kTagSize>(sealed.data() + size, kTagSize))) {
    return Error(Errc::kProtocol, "bad packet tag");
  }
  header.session_id = get_u64(sealed.data());
  header.packet_id = get_u64(sealed.data() + 8);
  return sealed.subspan(kSeparateHeaderSize, size - kSeparateHeaderSize);
}

std::size_t encode_udp_main_header(std::uint8_t type, std::uint64_t timestamp,
                                   std::uint64_t client_session_id, std::size_t padding,
                                   const net::Destination& address, std::span<std::uint8_t> out) {
  const std::size_t addr = address_size(address.address);
  const std::size_t fixed = 1 + 8 + (type == kTypeServer ? 8 : 0) + 2;
  const std::size_t size = fixed + padding + addr;
  if (addr == 0 || out.size() < size || padding > 0xFFFF) return 0;
  std::uint8_t* p = out.data();
  *p++ = type;
  put_u64(p, timestamp);
  p += 8;
  if (type == kTypeServer) {
    put_u64(p, client_session_id);
    p += 8;
  }
  put_u16(p, padding);
  p += 2;
  std::memset(p, 0, padding);
  p += padding;
  encode_address(address.address, address.port, {p, addr});
  return size;
}

Expected<UdpMainHeader> parse_udp_main_header(std::span<const std::uint8_t> body, std::uint8_t type,
                                              std::int64_t now) {
  const std::size_t fixed = 1 + 8 + (type == kTypeServer ? 8 : 0) + 2;
  if (body.size() < fixed) return Error(Errc::kProtocol, "packet too short");
  if (body[0] != type) return Error(Errc::kProtocol, "wrong packet type");
  if (!in_time(get_u64(body.data() + 1), now)) return Error(Errc::kProtocol, "bad timestamp");
  UdpMainHeader out;
  std::size_t at = 9;
  if (type == kTypeServer) {
    out.client_session_id = get_u64(body.data() + at);
    at += 8;
  }
  const std::size_t padding = get_u16(body.data() + at);
  at += 2;
  if (body.size() < at + padding) return Error(Errc::kProtocol, "short padding");
  at += padding;
  auto address = parse_address(body.subspan(at), net::Network::kUdp);
  if (!address) return Error(Errc::kProtocol, "bad address");
  out.address = std::move(address->value);
  out.payload_offset = at + address->consumed;
  return out;
}

bool PacketWindow::accept(std::uint64_t id) {
  constexpr std::uint64_t kBits = 64;
  constexpr std::uint64_t kSize = kBlocks * kBits;
  if (!started_) {
    started_ = true;
    last_ = id;
    bits_.fill(0);
    bits_[(id / kBits) % kBlocks] |= std::uint64_t{1} << (id % kBits);
    return true;
  }
  if (id > last_) {
    // Clear the blocks between the old and the new top.
    const std::uint64_t old_block = last_ / kBits;
    const std::uint64_t new_block = id / kBits;
    const std::uint64_t clear = std::min<std::uint64_t>(new_block - old_block, kBlocks);
    for (std::uint64_t i = 1; i <= clear; ++i) bits_[(old_block + i) % kBlocks] = 0;
    last_ = id;
  } else if (last_ - id >= kSize - kBits) {
    return false;  // too old to tell
  }
  std::uint64_t& block = bits_[(id / kBits) % kBlocks];
  const std::uint64_t bit = std::uint64_t{1} << (id % kBits);
  if ((block & bit) != 0) return false;
  block |= bit;
  return true;
}

}  // namespace xsup::worker::proxy::shadowsocks
