#include "worker/proxy/shadowsocks/cipher.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include "worker/proxy/shadowsocks/blake3.h"

namespace xsup::worker::proxy::shadowsocks {
namespace {

constexpr MethodInfo kMethods[] = {
    {"aes-128-gcm", 16, 16, 12},
    {"aes-256-gcm", 32, 32, 12},
    {"chacha20-ietf-poly1305", 32, 32, 12},
    {"xchacha20-ietf-poly1305", 32, 32, 24},
    {"2022-blake3-aes-128-gcm", 16, 16, 12},
    {"2022-blake3-aes-256-gcm", 32, 32, 12},
    {"2022-blake3-chacha20-poly1305", 32, 32, 12},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

const EVP_CIPHER* evp_cipher(Method method) {
  switch (method) {
    case Method::kAes128Gcm:
    case Method::k2022Aes128Gcm:
      return EVP_aes_128_gcm();
    case Method::kAes256Gcm:
    case Method::k2022Aes256Gcm:
      return EVP_aes_256_gcm();
    case Method::kChacha20Poly1305:
    case Method::kXChacha20Poly1305:
    case Method::k2022Chacha20Poly1305:
      return EVP_chacha20_poly1305();
  }
  return nullptr;
}

std::uint32_t load_le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

void store_le32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

constexpr std::uint32_t rotl(std::uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

void quarter_round(std::uint32_t* s, int a, int b, int c, int d) {
  s[a] += s[b];
  s[d] = rotl(s[d] ^ s[a], 16);
  s[c] += s[d];
  s[b] = rotl(s[b] ^ s[c], 12);
  s[a] += s[b];
  s[d] = rotl(s[d] ^ s[a], 8);
  s[c] += s[d];
  s[b] = rotl(s[b] ^ s[c], 7);
}

}  // namespace

const MethodInfo& info(Method method) { return kMethods[static_cast<std::size_t>(method)]; }

std::optional<Method> parse_method(std::string_view name) {
  if (iequals(name, "aes-128-gcm")) return Method::kAes128Gcm;
  if (iequals(name, "aes-256-gcm")) return Method::kAes256Gcm;
  if (iequals(name, "chacha20-ietf-poly1305") || iequals(name, "chacha20-poly1305")) {
    return Method::kChacha20Poly1305;
  }
  if (iequals(name, "xchacha20-ietf-poly1305") || iequals(name, "xchacha20-poly1305")) {
    return Method::kXChacha20Poly1305;
  }
  if (iequals(name, "2022-blake3-aes-128-gcm")) return Method::k2022Aes128Gcm;
  if (iequals(name, "2022-blake3-aes-256-gcm")) return Method::k2022Aes256Gcm;
  if (iequals(name, "2022-blake3-chacha20-poly1305")) return Method::k2022Chacha20Poly1305;
  return std::nullopt;
}

Key password_key(std::string_view password, std::size_t size) {
  Key out{};
  std::array<std::uint8_t, 16> digest{};
  std::size_t filled = 0;
  bool first = true;
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  if (md == nullptr) throw std::runtime_error("OpenSSL: out of memory");
  while (filled < size) {
    EVP_DigestInit_ex(md, EVP_md5(), nullptr);
    if (!first) EVP_DigestUpdate(md, digest.data(), digest.size());
    EVP_DigestUpdate(md, password.data(), password.size());
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, digest.data(), &n);
    const std::size_t take = std::min<std::size_t>(n, size - filled);
    std::memcpy(out.data() + filled, digest.data(), take);
    filled += take;
    first = false;
  }
  EVP_MD_CTX_free(md);
  return out;
}

Key session_subkey(std::span<const std::uint8_t> key, std::span<const std::uint8_t> salt) {
  // RFC 5869 with SHA-1: PRK = HMAC(salt, IKM); T(i) = HMAC(PRK, T(i-1) || info || i).
  static constexpr std::string_view kInfo = "ss-subkey";
  std::array<std::uint8_t, 20> prk{};
  unsigned int prk_size = 0;
  HMAC(EVP_sha1(), salt.data(), static_cast<int>(salt.size()), key.data(), key.size(), prk.data(),
       &prk_size);
  Key out{};
  std::array<std::uint8_t, 20 + kInfo.size() + 1> block{};
  std::array<std::uint8_t, 20> t{};
  std::size_t t_size = 0;
  std::size_t filled = 0;
  for (std::uint8_t i = 1; filled < key.size(); ++i) {
    std::memcpy(block.data(), t.data(), t_size);
    std::memcpy(block.data() + t_size, kInfo.data(), kInfo.size());
    block[t_size + kInfo.size()] = i;
    unsigned int n = 0;
    HMAC(EVP_sha1(), prk.data(), static_cast<int>(prk_size), block.data(),
         t_size + kInfo.size() + 1, t.data(), &n);
    t_size = n;
    const std::size_t take = std::min<std::size_t>(n, key.size() - filled);
    std::memcpy(out.data() + filled, t.data(), take);
    filled += take;
  }
  return out;
}

Key derive_session_key(Method method, std::span<const std::uint8_t> key,
                       std::span<const std::uint8_t> salt) {
  if (!is_2022(method)) return session_subkey(key, salt);
  std::array<std::uint8_t, kMaxKeySize + kMaxSaltSize> material{};
  std::memcpy(material.data(), key.data(), key.size());
  std::memcpy(material.data() + key.size(), salt.data(), salt.size());
  Key out{};
  blake3_derive_key("shadowsocks 2022 session subkey", {material.data(), key.size() + salt.size()},
                    {out.data(), key.size()});
  return out;
}

bool aes_ecb_block(std::span<const std::uint8_t> key, const std::uint8_t in[16],
                   std::uint8_t out[16], bool encrypt) {
  const EVP_CIPHER* cipher = key.size() == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb();
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return false;
  int n = 0;
  bool ok = EVP_CipherInit_ex(ctx, cipher, nullptr, key.data(), nullptr, encrypt ? 1 : 0) == 1;
  ok = ok && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
  ok = ok && EVP_CipherUpdate(ctx, out, &n, in, 16) == 1 && n == 16;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

std::array<std::uint8_t, 32> hchacha20(std::span<const std::uint8_t, 32> key,
                                       std::span<const std::uint8_t, 16> nonce) {
  // RFC 8439 §2.3 state: "expand 32-byte k", key, then the 16 nonce bytes in place of the
  // counter and nonce; 20 rounds, no final addition; output words 0..3 and 12..15.
  std::uint32_t s[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (int i = 0; i < 8; ++i) s[4 + i] = load_le32(key.data() + 4 * i);
  for (int i = 0; i < 4; ++i) s[12 + i] = load_le32(nonce.data() + 4 * i);
  for (int round = 0; round < 10; ++round) {
    quarter_round(s, 0, 4, 8, 12);
    quarter_round(s, 1, 5, 9, 13);
    quarter_round(s, 2, 6, 10, 14);
    quarter_round(s, 3, 7, 11, 15);
    quarter_round(s, 0, 5, 10, 15);
    quarter_round(s, 1, 6, 11, 12);
    quarter_round(s, 2, 7, 8, 13);
    quarter_round(s, 3, 4, 9, 14);
  }
  std::array<std::uint8_t, 32> out{};
  for (int i = 0; i < 4; ++i) store_le32(out.data() + 4 * i, s[i]);
  for (int i = 0; i < 4; ++i) store_le32(out.data() + 16 + 4 * i, s[12 + i]);
  return out;
}

void random_bytes(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
}

Aead::Aead(Method method, std::span<const std::uint8_t> key, Direction direction)
    : method_(method), direction_(direction) {
  std::memcpy(key_.data(), key.data(), std::min(key.size(), key_.size()));
  ctx_ = EVP_CIPHER_CTX_new();
  if (ctx_ == nullptr) return;
  const int enc = direction_ == Direction::kSeal ? 1 : 0;
  // XChaCha20 keys the cipher per operation (the subkey depends on the nonce).
  const std::uint8_t* initial_key = method_ == Method::kXChacha20Poly1305 ? nullptr : key_.data();
  if (EVP_CipherInit_ex(ctx_, evp_cipher(method_), nullptr, initial_key, nullptr, enc) != 1) {
    EVP_CIPHER_CTX_free(ctx_);
    ctx_ = nullptr;
  }
}

Aead::~Aead() {
  if (ctx_ != nullptr) EVP_CIPHER_CTX_free(ctx_);
}

bool Aead::start_operation() {
  if (ctx_ == nullptr) return false;
  if (method_ == Method::kXChacha20Poly1305) {
    // draft-irtf-cfrg-xchacha §2.3: subkey = HChaCha20(key, nonce[0:16]); the ChaCha20
    // nonce is four zero bytes and nonce[16:24].
    auto subkey = hchacha20(std::span<const std::uint8_t, 32>(key_.data(), 32),
                            std::span<const std::uint8_t, 16>(nonce_.data(), 16));
    std::array<std::uint8_t, 12> iv{};
    std::memcpy(iv.data() + 4, nonce_.data() + 16, 8);
    return EVP_CipherInit_ex(ctx_, nullptr, nullptr, subkey.data(), iv.data(), -1) == 1;
  }
  return EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce_.data(), -1) == 1;
}

void Aead::set_nonce(std::span<const std::uint8_t> nonce) {
  nonce_.fill(0);
  std::memcpy(nonce_.data(), nonce.data(), std::min(nonce.size(), nonce_.size()));
}

void Aead::advance_nonce() {
  const std::size_t size = info(method_).nonce_size;
  for (std::size_t i = 0; i < size; ++i) {
    if (++nonce_[i] != 0) break;
  }
}

bool Aead::seal(std::span<const std::uint8_t> in, std::uint8_t* out,
                std::span<std::uint8_t, kTagSize> tag) {
  bool ok = direction_ == Direction::kSeal && start_operation();
  int n = 0;
  ok = ok &&
       (in.empty() || EVP_CipherUpdate(ctx_, out, &n, in.data(), static_cast<int>(in.size())) == 1);
  ok = ok && EVP_CipherFinal_ex(ctx_, out + n, &n) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kTagSize, tag.data()) == 1;
  advance_nonce();
  return ok;
}

bool Aead::open(std::span<const std::uint8_t> in, std::uint8_t* out,
                std::span<const std::uint8_t, kTagSize> tag) {
  bool ok = direction_ == Direction::kOpen && start_operation();
  int n = 0;
  ok = ok &&
       (in.empty() || EVP_CipherUpdate(ctx_, out, &n, in.data(), static_cast<int>(in.size())) == 1);
  // OpenSSL takes the expected tag through a non-const pointer but only reads it.
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, kTagSize,
                                 const_cast<std::uint8_t*>(tag.data())) == 1;
  ok = ok && EVP_CipherFinal_ex(ctx_, out + n, &n) == 1;
  advance_nonce();
  return ok;
}

}  // namespace xsup::worker::proxy::shadowsocks
