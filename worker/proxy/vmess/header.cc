#include "worker/proxy/vmess/header.h"

#include <algorithm>
#include <cstring>

namespace xsup::worker::proxy::vmess {
namespace {

using base::Errc;
using base::Error;

// spec/vmess.md §1.1: KDF labels.
constexpr std::string_view kAuthIdLabel = "AES Auth ID Encryption";
constexpr std::string_view kLengthKeyLabel = "VMess Header AEAD Key_Length";
constexpr std::string_view kLengthNonceLabel = "VMess Header AEAD Nonce_Length";
constexpr std::string_view kHeaderKeyLabel = "VMess Header AEAD Key";
constexpr std::string_view kHeaderNonceLabel = "VMess Header AEAD Nonce";
constexpr std::string_view kRespLengthKeyLabel = "AEAD Resp Header Len Key";
constexpr std::string_view kRespLengthIvLabel = "AEAD Resp Header Len IV";
constexpr std::string_view kRespHeaderKeyLabel = "AEAD Resp Header Key";
constexpr std::string_view kRespHeaderIvLabel = "AEAD Resp Header IV";

// spec/vmess.md §3.1: address types of the "port first" form.
constexpr std::uint8_t kAtypIpv4 = 1;
constexpr std::uint8_t kAtypDomain = 2;
constexpr std::uint8_t kAtypIpv6 = 3;
// Ver, IV, Key, V, Opt, P|Sec, Rsv, Cmd.
constexpr std::size_t kFixedSize = 1 + 16 + 16 + 1 + 1 + 1 + 1 + 1;

// An AES-128-GCM AEAD keyed and nonced by the KDF of `secret` along `path`.
struct DerivedAead {
  Aead aead;
  std::array<std::uint8_t, 12> nonce;
};

DerivedAead derive(const Bytes16& secret, std::string_view key_label, std::string_view nonce_label,
                   ByteView auth_id, ByteView connection_nonce) {
  Bytes16 key = kdf16(secret, {label(key_label), auth_id, connection_nonce});
  Bytes32 nonce = kdf(secret, {label(nonce_label), auth_id, connection_nonce});
  DerivedAead out{Aead(Cipher::kAes128Gcm, key), {}};
  std::memcpy(out.nonce.data(), nonce.data(), out.nonce.size());
  return out;
}

DerivedAead derive_response(const Bytes16& key_secret, const Bytes16& iv_secret,
                            std::string_view key_label, std::string_view iv_label) {
  Bytes16 key = kdf16(key_secret, {label(key_label)});
  Bytes32 nonce = kdf(iv_secret, {label(iv_label)});
  DerivedAead out{Aead(Cipher::kAes128Gcm, key), {}};
  std::memcpy(out.nonce.data(), nonce.data(), out.nonce.size());
  return out;
}

}  // namespace

Bytes16 auth_id_key(const Bytes16& cmd_key) { return kdf16(cmd_key, {label(kAuthIdLabel)}); }

Bytes16 make_auth_id(const AesBlock& key, std::int64_t unix_time, std::uint32_t random) {
  Bytes16 plain{};
  const auto t = static_cast<std::uint64_t>(unix_time);
  for (int i = 0; i < 8; ++i)
    plain[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(t >> (56 - 8 * i));
  put_u32(plain.data() + 8, random);
  put_u32(plain.data() + 12, crc32_ieee(ByteView(plain.data(), 12)));
  return key.encrypt(plain);
}

std::optional<std::int64_t> open_auth_id(const AesBlock& key, const Bytes16& auth_id) {
  Bytes16 plain = key.decrypt(auth_id);
  if (get_u32(plain.data() + 12) != crc32_ieee(ByteView(plain.data(), 12))) return std::nullopt;
  std::uint64_t t = 0;
  for (int i = 0; i < 8; ++i) t = (t << 8) | plain[static_cast<std::size_t>(i)];
  return static_cast<std::int64_t>(t);
}

std::size_t encode_header(const RequestHeader& header, ByteView padding_bytes,
                          std::span<std::uint8_t> out) {
  if (out.size() < kMaxHeaderSize || header.padding > 15 || padding_bytes.size() < header.padding) {
    return 0;
  }
  std::uint8_t* p = out.data();
  *p++ = kHeaderVersion;
  p = std::copy(header.body_iv.begin(), header.body_iv.end(), p);
  p = std::copy(header.body_key.begin(), header.body_key.end(), p);
  *p++ = header.response_auth;
  *p++ = header.options;
  *p++ = static_cast<std::uint8_t>((header.padding << 4) | (header.security & 0x0F));
  *p++ = 0;  // Rsv
  *p++ = static_cast<std::uint8_t>(header.command);
  if (header.command != Command::kMux) {
    const net::Address& address = header.target.address;
    put_u16(p, header.target.port);
    p += 2;
    if (address.is_ip() && address.ip().is_v4()) {
      *p++ = kAtypIpv4;
      auto bytes = address.ip().to_v4().to_bytes();
      p = std::copy(bytes.begin(), bytes.end(), p);
    } else if (address.is_ip()) {
      *p++ = kAtypIpv6;
      auto bytes = address.ip().to_v6().to_bytes();
      p = std::copy(bytes.begin(), bytes.end(), p);
    } else {
      const std::string& name = address.domain();
      if (name.empty() || name.size() > 255) return 0;
      *p++ = kAtypDomain;
      *p++ = static_cast<std::uint8_t>(name.size());
      p = std::copy(name.begin(), name.end(), p);
    }
  }
  p = std::copy(padding_bytes.begin(), padding_bytes.begin() + header.padding, p);
  const auto size = static_cast<std::size_t>(p - out.data());
  put_u32(p, fnv1a32(ByteView(out.data(), size)));
  return size + 4;
}

Expected<RequestHeader> parse_header(ByteView in) {
  if (in.size() < kFixedSize + 4) return Error(Errc::kProtocol, "header too short");
  if (in.size() > kMaxHeaderSize) return Error(Errc::kTooLarge, "header too long");
  const std::size_t body = in.size() - 4;
  if (fnv1a32(in.first(body)) != get_u32(in.data() + body)) {
    return Error(Errc::kProtocol, "header checksum mismatch");
  }
  if (in[0] != kHeaderVersion) return Error(Errc::kProtocol, "unknown header version");
  RequestHeader h;
  const std::uint8_t* p = in.data() + 1;
  std::memcpy(h.body_iv.data(), p, 16);
  std::memcpy(h.body_key.data(), p + 16, 16);
  p += 32;
  h.response_auth = *p++;
  h.options = *p++;
  h.padding = static_cast<std::uint8_t>(*p >> 4);
  h.security = static_cast<std::uint8_t>(*p++ & 0x0F);
  ++p;  // Rsv
  const std::uint8_t command = *p++;
  std::size_t left = body - kFixedSize;
  switch (command) {
    case 0x01:
      h.command = Command::kTcp;
      break;
    case 0x02:
      h.command = Command::kUdp;
      break;
    case 0x03:
      h.command = Command::kMux;
      break;
    default:
      return Error(Errc::kProtocol, "unknown command");
  }
  if (h.command != Command::kMux) {
    if (left < 3) return Error(Errc::kProtocol, "address truncated");
    h.target.network = h.command == Command::kUdp ? net::Network::kUdp : net::Network::kTcp;
    h.target.port = get_u16(p);
    const std::uint8_t atyp = p[2];
    p += 3;
    left -= 3;
    switch (atyp) {
      case kAtypIpv4: {
        if (left < 4) return Error(Errc::kProtocol, "address truncated");
        asio::ip::address_v4::bytes_type bytes;
        std::memcpy(bytes.data(), p, 4);
        h.target.address = net::Address(asio::ip::address(asio::ip::address_v4(bytes)));
        p += 4;
        left -= 4;
        break;
      }
      case kAtypIpv6: {
        if (left < 16) return Error(Errc::kProtocol, "address truncated");
        asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), p, 16);
        h.target.address = net::Address(asio::ip::address(asio::ip::address_v6(bytes)));
        p += 16;
        left -= 16;
        break;
      }
      case kAtypDomain: {
        if (left < 1) return Error(Errc::kProtocol, "address truncated");
        const std::size_t n = *p++;
        --left;
        if (n == 0) return Error(Errc::kProtocol, "empty domain");
        if (left < n) return Error(Errc::kProtocol, "address truncated");
        std::string name(reinterpret_cast<const char*>(p), n);
        h.target.address = net::Address::parse(name);
        p += n;
        left -= n;
        break;
      }
      default:
        return Error(Errc::kProtocol, "unknown address type");
    }
    if (h.target.port == 0) return Error(Errc::kProtocol, "port 0");
  }
  if (left != h.padding) return Error(Errc::kProtocol, "header size does not match its padding");
  return h;
}

std::size_t seal_request(const Bytes16& cmd_key, const Bytes16& auth_id,
                         std::span<const std::uint8_t, kConnectionNonceSize> nonce,
                         ByteView header_plaintext, std::span<std::uint8_t> out) {
  const std::size_t total = kRequestPrefixSize + header_plaintext.size() + Aead::kTagSize;
  if (header_plaintext.size() > kMaxHeaderSize || out.size() < total) return 0;
  std::uint8_t* p = out.data();
  std::memcpy(p, auth_id.data(), kAuthIdSize);
  auto length = derive(cmd_key, kLengthKeyLabel, kLengthNonceLabel, auth_id, nonce);
  std::uint8_t size[2];
  put_u16(size, static_cast<std::uint16_t>(header_plaintext.size()));
  if (!length.aead.seal(length.nonce.data(), auth_id, ByteView(size, 2), p + kAuthIdSize)) {
    return 0;
  }
  std::memcpy(p + kAuthIdSize + kSealedLengthSize, nonce.data(), kConnectionNonceSize);
  auto payload = derive(cmd_key, kHeaderKeyLabel, kHeaderNonceLabel, auth_id, nonce);
  if (!payload.aead.seal(payload.nonce.data(), auth_id, header_plaintext, p + kRequestPrefixSize)) {
    return 0;
  }
  return total;
}

Expected<std::size_t> open_header_length(const Bytes16& cmd_key, ByteView prefix) {
  if (prefix.size() < kRequestPrefixSize) return Error(Errc::kNeedMore);
  ByteView auth_id = prefix.first(kAuthIdSize);
  ByteView nonce = prefix.subspan(kAuthIdSize + kSealedLengthSize, kConnectionNonceSize);
  auto length = derive(cmd_key, kLengthKeyLabel, kLengthNonceLabel, auth_id, nonce);
  std::uint8_t size[2];
  if (!length.aead.open(length.nonce.data(), auth_id,
                        prefix.subspan(kAuthIdSize, kSealedLengthSize), size)) {
    return Error(Errc::kAuthFailed, "header length does not authenticate");
  }
  const std::size_t n = get_u16(size);
  if (n > kMaxHeaderSize) return Error(Errc::kTooLarge, "header length over the limit");
  return n;
}

base::Status open_header(const Bytes16& cmd_key, ByteView prefix, ByteView sealed,
                         std::uint8_t* out) {
  if (prefix.size() < kRequestPrefixSize || sealed.size() < Aead::kTagSize) {
    return Error(Errc::kNeedMore);
  }
  ByteView auth_id = prefix.first(kAuthIdSize);
  ByteView nonce = prefix.subspan(kAuthIdSize + kSealedLengthSize, kConnectionNonceSize);
  auto payload = derive(cmd_key, kHeaderKeyLabel, kHeaderNonceLabel, auth_id, nonce);
  if (!payload.aead.open(payload.nonce.data(), auth_id, sealed, out)) {
    return Error(Errc::kAuthFailed, "header does not authenticate");
  }
  return {};
}

Bytes16 response_key(const Bytes16& body_key) {
  Bytes32 h = sha256(body_key);
  Bytes16 out;
  std::memcpy(out.data(), h.data(), 16);
  return out;
}

Bytes16 response_iv(const Bytes16& body_iv) { return response_key(body_iv); }

void seal_response_header(const Bytes16& resp_key, const Bytes16& resp_iv, std::uint8_t v,
                          std::span<std::uint8_t, kResponseHeaderSize> out) {
  const std::uint8_t header[4] = {v, 0, 0, 0};
  auto length = derive_response(resp_key, resp_iv, kRespLengthKeyLabel, kRespLengthIvLabel);
  std::uint8_t size[2];
  put_u16(size, sizeof header);
  length.aead.seal(length.nonce.data(), {}, ByteView(size, 2), out.data());
  auto payload = derive_response(resp_key, resp_iv, kRespHeaderKeyLabel, kRespHeaderIvLabel);
  payload.aead.seal(payload.nonce.data(), {}, ByteView(header, sizeof header),
                    out.data() + kSealedLengthSize);
}

Expected<std::size_t> open_response_length(const Bytes16& resp_key, const Bytes16& resp_iv,
                                           ByteView sealed_length) {
  if (sealed_length.size() < kSealedLengthSize) return Error(Errc::kNeedMore);
  auto length = derive_response(resp_key, resp_iv, kRespLengthKeyLabel, kRespLengthIvLabel);
  std::uint8_t size[2];
  if (!length.aead.open(length.nonce.data(), {}, sealed_length.first(kSealedLengthSize), size)) {
    return Error(Errc::kAuthFailed, "response header length does not authenticate");
  }
  const std::size_t n = get_u16(size);
  if (n < 4) return Error(Errc::kProtocol, "response header too short");
  if (n > kMaxHeaderSize) return Error(Errc::kTooLarge, "response header over the limit");
  return n;
}

Expected<std::uint8_t> open_response_header(const Bytes16& resp_key, const Bytes16& resp_iv,
                                            ByteView sealed) {
  if (sealed.size() < Aead::kTagSize + 4 || sealed.size() > kMaxHeaderSize + Aead::kTagSize) {
    return Error(Errc::kProtocol, "response header size");
  }
  std::array<std::uint8_t, kMaxHeaderSize> plain;
  auto payload = derive_response(resp_key, resp_iv, kRespHeaderKeyLabel, kRespHeaderIvLabel);
  if (!payload.aead.open(payload.nonce.data(), {}, sealed, plain.data())) {
    return Error(Errc::kAuthFailed, "response header does not authenticate");
  }
  // V, Opt, CmdID, CmdLen, then a command the client ignores (legacy dynamic port).
  return plain[0];
}

}  // namespace xsup::worker::proxy::vmess
