#pragma once
// The small hash and cipher building blocks of VMess (spec/vmess.md §1, §2, §6), as pure
// functions over byte spans: the nested-HMAC KDF, MD5/SHA-256, CRC32 and FNV-1a, a
// one-block AES-128 decryptor for AuthIDs, the SHAKE128 length-mask stream and an AEAD
// (AES-128-GCM or ChaCha20-Poly1305) with a 12-byte nonce and a 16-byte tag.
//
// Everything sits on OpenSSL EVP except SHAKE128's stream: OpenSSL 3.0 (Debian 12) can
// squeeze an XOF only once (EVP_DigestSqueeze arrived in 3.3), while VMess draws two bytes
// at a time for the life of a connection. Shake128Stream is therefore a plain Keccak-f[1600]
// sponge, checked against OpenSSL's one-shot SHAKE128 in the unit tests.

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace xsup::worker::proxy::vmess {

using Bytes16 = std::array<std::uint8_t, 16>;
using Bytes32 = std::array<std::uint8_t, 32>;
using ByteView = std::span<const std::uint8_t>;

// An ASCII label as bytes.
inline ByteView label(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// spec/vmess.md §1.1: KDF(key, p1..pn), 32 bytes; kdf16 keeps the first 16.
Bytes32 kdf(ByteView key, std::initializer_list<ByteView> path);
Bytes16 kdf16(ByteView key, std::initializer_list<ByteView> path);

Bytes16 md5(ByteView data);
Bytes32 sha256(ByteView data);
// CRC-32/IEEE (zlib's crc32), as Go's hash/crc32.ChecksumIEEE.
std::uint32_t crc32_ieee(ByteView data);
// FNV-1a, 32 bits (spec/vmess.md §3.1 F).
std::uint32_t fnv1a32(ByteView data);

// cmdKey = MD5(UUID ‖ "c48619fe-8f02-49e0-b9e9-edf763e17e21") (spec/vmess.md §1).
Bytes16 cmd_key(const Bytes16& uuid);
// The ChaCha20-Poly1305 key of a 16-byte key: MD5(key) ‖ MD5(MD5(key)) (spec/vmess.md §4).
Bytes32 chacha_key(const Bytes16& key);

// Big-endian helpers.
inline void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline std::uint16_t get_u16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
inline std::uint32_t get_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

// AES-128 on single blocks with a fixed key (AuthIDs: spec/vmess.md §2).
class AesBlock {
 public:
  explicit AesBlock(const Bytes16& key);
  ~AesBlock();
  AesBlock(AesBlock&& other) noexcept;
  AesBlock& operator=(AesBlock&& other) noexcept;
  AesBlock(const AesBlock&) = delete;
  AesBlock& operator=(const AesBlock&) = delete;

  Bytes16 encrypt(const Bytes16& in) const;
  Bytes16 decrypt(const Bytes16& in) const;

 private:
  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
};

// SHAKE128(seed) read two bytes at a time (spec/vmess.md §6 "SHAKE stream").
class Shake128Stream {
 public:
  explicit Shake128Stream(ByteView seed);  // seed <= 167 bytes
  std::uint16_t next();                    // the next 2 bytes, big-endian
  void read(std::uint8_t* out, std::size_t n);

 private:
  static constexpr std::size_t kRate = 168;
  void permute();
  void fill();
  std::array<std::uint64_t, 25> state_{};
  std::array<std::uint8_t, kRate> block_{};
  std::size_t pos_ = kRate;
};

enum class Cipher : std::uint8_t { kAes128Gcm, kChacha20Poly1305 };

// An AEAD with a fixed key; one context per direction, made on first use. In-place
// operation (out == in) is allowed.
class Aead {
 public:
  static constexpr std::size_t kTagSize = 16;
  static constexpr std::size_t kNonceSize = 12;

  // key: 16 bytes for AES-128-GCM, 32 for ChaCha20-Poly1305.
  Aead(Cipher cipher, ByteView key);
  ~Aead();
  Aead(Aead&& other) noexcept;
  Aead& operator=(Aead&& other) noexcept;
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  // Writes in.size() + 16 bytes to out. False only if OpenSSL fails.
  bool seal(const std::uint8_t* nonce, ByteView aad, ByteView in, std::uint8_t* out);
  // in = ciphertext ‖ tag; writes in.size() - 16 bytes. False when the tag does not match.
  bool open(const std::uint8_t* nonce, ByteView aad, ByteView in, std::uint8_t* out);

 private:
  EVP_CIPHER_CTX* context(bool encrypt);
  Cipher cipher_;
  std::array<std::uint8_t, 32> key_{};
  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
};

// Whether this CPU runs AES-GCM in hardware: `auto` picks AES-128-GCM then, else
// ChaCha20-Poly1305 (spec/vmess.md §4, as Xray's hasAESGCMHardwareSupport).
bool has_aes_gcm_hardware();

}  // namespace xsup::worker::proxy::vmess
