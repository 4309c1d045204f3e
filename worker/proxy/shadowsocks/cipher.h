#pragma once
// Shadowsocks AEAD ciphers (spec/shadowsocks.md Part A): the method table, the
// EVP_BytesToKey-style master key, the HKDF-SHA1 session subkey and an AEAD with the
// little-endian nonce counter. OpenSSL EVP does the AEAD work; XChaCha20 gets its
// HChaCha20 step here because OpenSSL 3.0 has no XChaCha20-Poly1305.

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace xsup::worker::proxy::shadowsocks {

enum class Method : std::uint8_t {
  kAes128Gcm,
  kAes256Gcm,
  kChacha20Poly1305,
  kXChacha20Poly1305,
  // Shadowsocks 2022 (spec/shadowsocks.md Part B): BLAKE3 session keys from a PSK.
  k2022Aes128Gcm,
  k2022Aes256Gcm,
  k2022Chacha20Poly1305,
};

inline bool is_2022(Method method) {
  return method == Method::k2022Aes128Gcm || method == Method::k2022Aes256Gcm ||
         method == Method::k2022Chacha20Poly1305;
}

// spec/shadowsocks.md A.1.
struct MethodInfo {
  std::string_view name;  // the canonical (shadowsocks-libev) name
  std::size_t key_size;
  std::size_t salt_size;
  std::size_t nonce_size;
};

inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kMaxKeySize = 32;
inline constexpr std::size_t kMaxSaltSize = 32;
inline constexpr std::size_t kMaxNonceSize = 24;

const MethodInfo& info(Method method);
// Accepts the shadowsocks-libev names and the Xray/v2ray spellings
// ("chacha20-poly1305", "xchacha20-poly1305"), in any case.
std::optional<Method> parse_method(std::string_view name);

using Key = std::array<std::uint8_t, kMaxKeySize>;

// OpenSSL EVP_BytesToKey with MD5, no salt, one round (A.2): D1 = MD5(pw),
// Di = MD5(D(i-1) || pw), truncated to `size` bytes.
Key password_key(std::string_view password, std::size_t size);
// HKDF-SHA1(IKM = key, salt, info = "ss-subkey"), key-sized (A.2).
Key session_subkey(std::span<const std::uint8_t> key, std::span<const std::uint8_t> salt);
// The session key of one direction: session_subkey for AEAD-2017, BLAKE3
// derive_key("shadowsocks 2022 session subkey", PSK || salt) for 2022 (B.1).
Key derive_session_key(Method method, std::span<const std::uint8_t> key,
                       std::span<const std::uint8_t> salt);

// One AES block (AES-128 or AES-256 by key size) in ECB mode: 2022's identity headers and
// UDP separate headers (B.4, B.5). False when OpenSSL fails.
bool aes_ecb_block(std::span<const std::uint8_t> key, const std::uint8_t in[16],
                   std::uint8_t out[16], bool encrypt);

// HChaCha20 (draft-irtf-cfrg-xchacha §2.2): a 32-byte subkey from a key and 16 nonce bytes.
std::array<std::uint8_t, 32> hchacha20(std::span<const std::uint8_t, 32> key,
                                       std::span<const std::uint8_t, 16> nonce);

// Fills `out` from OpenSSL's CSPRNG (seeded before the worker's lock-down).
void random_bytes(std::span<std::uint8_t> out);

// One direction of an AEAD session: seals or opens, with a nonce that starts at zero and
// goes up by one (little-endian) after every operation (A.2). Data is processed in place.
class Aead {
 public:
  enum class Direction : std::uint8_t { kSeal, kOpen };

  Aead(Method method, std::span<const std::uint8_t> key, Direction direction);
  ~Aead();
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  // False when OpenSSL could not set the cipher up (out of memory): the session must end.
  bool ok() const { return ctx_ != nullptr; }
  // Sets the nonce of the next operation (2022 UDP: from the packet header).
  void set_nonce(std::span<const std::uint8_t> nonce);

  // Encrypts `in` into `out` (the same size; they may be the same bytes) and writes the
  // tag to `tag`.
  bool seal(std::span<const std::uint8_t> in, std::uint8_t* out,
            std::span<std::uint8_t, kTagSize> tag);
  // Decrypts `in` into `out` (may be the same bytes); false when the tag does not match,
  // and then `out` holds garbage.
  bool open(std::span<const std::uint8_t> in, std::uint8_t* out,
            std::span<const std::uint8_t, kTagSize> tag);

 private:
  bool start_operation();
  void advance_nonce();

  Method method_;
  Direction direction_;
  EVP_CIPHER_CTX* ctx_ = nullptr;
  Key key_{};  // kept for XChaCha20, whose cipher key changes with every nonce
  std::array<std::uint8_t, kMaxNonceSize> nonce_{};
};

}  // namespace xsup::worker::proxy::shadowsocks
