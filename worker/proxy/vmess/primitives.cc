#include "worker/proxy/vmess/primitives.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/auxv.h>

#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

namespace xsup::worker::proxy::vmess {
namespace {

// spec/vmess.md §1.1: the key of the innermost HMAC.
constexpr std::string_view kKdfRootKey = "VMess AEAD KDF";
// spec/vmess.md §1: the cmdKey salt.
constexpr std::string_view kCmdKeySalt = "c48619fe-8f02-49e0-b9e9-edf763e17e21";
constexpr std::size_t kHmacBlock = 64;

// H_level(message) of the KDF chain: level 0 is HMAC-SHA256 keyed with the root key; level
// i is HMAC built on H_(i-1) with key path[i-1].
Bytes32 kdf_hash(std::size_t level, const ByteView* path, ByteView message) {
  Bytes32 out{};
  if (level == 0) {
    unsigned int size = 0;
    HMAC(EVP_sha256(), kKdfRootKey.data(), static_cast<int>(kKdfRootKey.size()), message.data(),
         message.size(), out.data(), &size);
    return out;
  }
  std::array<std::uint8_t, kHmacBlock> key{};
  ByteView k = path[level - 1];
  if (k.size() > kHmacBlock) {
    Bytes32 hashed = kdf_hash(level - 1, path, k);
    std::memcpy(key.data(), hashed.data(), hashed.size());
  } else {
    std::memcpy(key.data(), k.data(), k.size());
  }
  std::vector<std::uint8_t> inner(kHmacBlock + message.size());
  for (std::size_t i = 0; i < kHmacBlock; ++i) inner[i] = key[i] ^ 0x36;
  std::memcpy(inner.data() + kHmacBlock, message.data(), message.size());
  Bytes32 inner_hash = kdf_hash(level - 1, path, inner);
  std::array<std::uint8_t, kHmacBlock + 32> outer{};
  for (std::size_t i = 0; i < kHmacBlock; ++i) outer[i] = key[i] ^ 0x5C;
  std::memcpy(outer.data() + kHmacBlock, inner_hash.data(), inner_hash.size());
  return kdf_hash(level - 1, path, outer);
}

struct Crc32Table {
  std::array<std::uint32_t, 256> entries{};
  constexpr Crc32Table() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      entries[i] = c;
    }
  }
};
constexpr Crc32Table kCrc32;

EVP_CIPHER_CTX* new_ecb(const Bytes16& key, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr || EVP_CipherInit_ex(ctx, EVP_aes_128_ecb(), nullptr, key.data(), nullptr,
                                          encrypt ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    throw std::runtime_error("OpenSSL AES-128-ECB init failed");
  }
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  return ctx;
}

Bytes16 ecb_block(EVP_CIPHER_CTX* ctx, const Bytes16& in) {
  Bytes16 out{};
  int n = 0;
  EVP_CipherUpdate(ctx, out.data(), &n, in.data(), static_cast<int>(in.size()));
  return out;
}

// Keccak-f[1600] (FIPS 202 §3.3, §3.4).
constexpr std::array<std::uint64_t, 24> kRoundConstants{
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808AULL, 0x8000000080008000ULL,
    0x000000000000808BULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008AULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000AULL,
    0x000000008000808BULL, 0x800000000000008BULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800AULL, 0x800000008000000AULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};
// ρ rotation amounts and π lane order, walked along the π cycle starting at lane 1.
constexpr std::array<int, 24> kRotations{1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                         27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
constexpr std::array<int, 24> kPiLanes{10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                       15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

constexpr std::uint64_t rotl(std::uint64_t x, int n) { return (x << n) | (x >> (64 - n)); }

}  // namespace

Bytes32 kdf(ByteView key, std::initializer_list<ByteView> path) {
  return kdf_hash(path.size(), path.begin(), key);
}

Bytes16 kdf16(ByteView key, std::initializer_list<ByteView> path) {
  Bytes32 full = kdf(key, path);
  Bytes16 out;
  std::memcpy(out.data(), full.data(), out.size());
  return out;
}

Bytes16 md5(ByteView data) {
  Bytes16 out{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_md5(), nullptr);
  return out;
}

Bytes32 sha256(ByteView data) {
  Bytes32 out{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

std::uint32_t crc32_ieee(ByteView data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::uint8_t b : data) c = kCrc32.entries[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t fnv1a32(ByteView data) {
  std::uint32_t h = 0x811C9DC5u;
  for (std::uint8_t b : data) {
    h ^= b;
    h *= 0x01000193u;
  }
  return h;
}

Bytes16 cmd_key(const Bytes16& uuid) {
  std::array<std::uint8_t, 16 + kCmdKeySalt.size()> input{};
  std::memcpy(input.data(), uuid.data(), uuid.size());
  std::memcpy(input.data() + uuid.size(), kCmdKeySalt.data(), kCmdKeySalt.size());
  return md5(input);
}

Bytes32 chacha_key(const Bytes16& key) {
  Bytes32 out{};
  Bytes16 first = md5(key);
  Bytes16 second = md5(first);
  std::memcpy(out.data(), first.data(), 16);
  std::memcpy(out.data() + 16, second.data(), 16);
  return out;
}

// ---- AesBlock ------------------------------------------------------------------------------

AesBlock::AesBlock(const Bytes16& key) : enc_(new_ecb(key, true)), dec_(new_ecb(key, false)) {}

AesBlock::~AesBlock() {
  EVP_CIPHER_CTX_free(enc_);
  EVP_CIPHER_CTX_free(dec_);
}

AesBlock::AesBlock(AesBlock&& other) noexcept
    : enc_(std::exchange(other.enc_, nullptr)), dec_(std::exchange(other.dec_, nullptr)) {}

AesBlock& AesBlock::operator=(AesBlock&& other) noexcept {
  std::swap(enc_, other.enc_);
  std::swap(dec_, other.dec_);
  return *this;
}

Bytes16 AesBlock::encrypt(const Bytes16& in) const { return ecb_block(enc_, in); }
Bytes16 AesBlock::decrypt(const Bytes16& in) const { return ecb_block(dec_, in); }

// ---- Shake128Stream ------------------------------------------------------------------------

Shake128Stream::Shake128Stream(ByteView seed) {
  // Absorb one block: the seed, the SHAKE domain bits 1111 with pad10*1 (FIPS 202 §6.2).
  std::array<std::uint8_t, kRate> block{};
  const std::size_t n = seed.size() < kRate ? seed.size() : kRate - 1;
  std::memcpy(block.data(), seed.data(), n);
  block[n] ^= 0x1F;
  block[kRate - 1] ^= 0x80;
  for (std::size_t i = 0; i < kRate / 8; ++i) {
    std::uint64_t lane = 0;
    for (int b = 7; b >= 0; --b) lane = (lane << 8) | block[i * 8 + static_cast<std::size_t>(b)];
    state_[i] ^= lane;
  }
}

void Shake128Stream::permute() {
  auto& st = state_;
  std::array<std::uint64_t, 5> bc{};
  for (std::uint64_t rc : kRoundConstants) {
    for (int i = 0; i < 5; ++i) bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
    for (int i = 0; i < 5; ++i) {
      const std::uint64_t t = bc[(i + 4) % 5] ^ rotl(bc[(i + 1) % 5], 1);
      for (int j = 0; j < 25; j += 5) st[j + i] ^= t;
    }
    std::uint64_t t = st[1];
    for (int i = 0; i < 24; ++i) {
      const int j = kPiLanes[i];
      const std::uint64_t next = st[j];
      st[j] = rotl(t, kRotations[i]);
      t = next;
    }
    for (int j = 0; j < 25; j += 5) {
      for (int i = 0; i < 5; ++i) bc[i] = st[j + i];
      for (int i = 0; i < 5; ++i) st[j + i] ^= (~bc[(i + 1) % 5]) & bc[(i + 2) % 5];
    }
    st[0] ^= rc;
  }
}

void Shake128Stream::fill() {
  permute();
  for (std::size_t i = 0; i < kRate / 8; ++i) {
    for (std::size_t b = 0; b < 8; ++b)
      block_[i * 8 + b] = static_cast<std::uint8_t>(state_[i] >> (8 * b));
  }
  pos_ = 0;
}

void Shake128Stream::read(std::uint8_t* out, std::size_t n) {
  while (n > 0) {
    if (pos_ == kRate) fill();
    const std::size_t take = std::min(n, kRate - pos_);
    std::memcpy(out, block_.data() + pos_, take);
    pos_ += take;
    out += take;
    n -= take;
  }
}

std::uint16_t Shake128Stream::next() {
  std::uint8_t two[2];
  read(two, 2);
  return get_u16(two);
}

// ---- Aead ----------------------------------------------------------------------------------

Aead::Aead(Cipher cipher, ByteView key) : cipher_(cipher) {
  const std::size_t want = cipher == Cipher::kAes128Gcm ? 16 : 32;
  if (key.size() != want) throw std::invalid_argument("vmess: AEAD key of the wrong size");
  std::memcpy(key_.data(), key.data(), want);
}

Aead::~Aead() {
  EVP_CIPHER_CTX_free(enc_);
  EVP_CIPHER_CTX_free(dec_);
}

Aead::Aead(Aead&& other) noexcept
    : cipher_(other.cipher_),
      key_(other.key_),
      enc_(std::exchange(other.enc_, nullptr)),
      dec_(std::exchange(other.dec_, nullptr)) {}

Aead& Aead::operator=(Aead&& other) noexcept {
  cipher_ = other.cipher_;
  key_ = other.key_;
  std::swap(enc_, other.enc_);
  std::swap(dec_, other.dec_);
  return *this;
}

EVP_CIPHER_CTX* Aead::context(bool encrypt) {
  EVP_CIPHER_CTX*& ctx = encrypt ? enc_ : dec_;
  if (ctx != nullptr) return ctx;
  ctx = EVP_CIPHER_CTX_new();
  const EVP_CIPHER* type =
      cipher_ == Cipher::kAes128Gcm ? EVP_aes_128_gcm() : EVP_chacha20_poly1305();
  if (ctx == nullptr ||
      EVP_CipherInit_ex(ctx, type, nullptr, key_.data(), nullptr, encrypt ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    ctx = nullptr;
  }
  return ctx;
}

bool Aead::seal(const std::uint8_t* nonce, ByteView aad, ByteView in, std::uint8_t* out) {
  EVP_CIPHER_CTX* ctx = context(true);
  if (ctx == nullptr) return false;
  int n = 0;
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1) return false;
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1) {
    return false;
  }
  int written = 0;
  if (!in.empty()) {
    if (EVP_EncryptUpdate(ctx, out, &written, in.data(), static_cast<int>(in.size())) != 1) {
      return false;
    }
  }
  int tail = 0;
  if (EVP_EncryptFinal_ex(ctx, out + written, &tail) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagSize, out + in.size()) == 1;
}

bool Aead::open(const std::uint8_t* nonce, ByteView aad, ByteView in, std::uint8_t* out) {
  if (in.size() < kTagSize) return false;
  EVP_CIPHER_CTX* ctx = context(false);
  if (ctx == nullptr) return false;
  const std::size_t size = in.size() - kTagSize;
  // The tag is copied first: with out == in, decrypting could not touch it anyway, but a
  // caller may pass out overlapping in at an offset.
  std::array<std::uint8_t, kTagSize> tag;
  std::memcpy(tag.data(), in.data() + size, kTagSize);
  int n = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1) return false;
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1) {
    return false;
  }
  int written = 0;
  if (size > 0 && EVP_DecryptUpdate(ctx, out, &written, in.data(), static_cast<int>(size)) != 1) {
    return false;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTagSize, tag.data()) != 1) return false;
  int tail = 0;
  return EVP_DecryptFinal_ex(ctx, out + written, &tail) == 1;
}

bool has_aes_gcm_hardware() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__)
  const unsigned long caps = getauxval(AT_HWCAP);
  return (caps & (1UL << 3)) != 0 && (caps & (1UL << 4)) != 0;  // HWCAP_AES, HWCAP_PMULL
#else
  return false;
#endif
}

}  // namespace xsup::worker::proxy::vmess
