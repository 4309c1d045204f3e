// Known answers for the Shadowsocks AEAD key schedule and ciphers (spec/shadowsocks.md,
// "Test vectors"), HChaCha20 (draft-irtf-cfrg-xchacha §2.2.1) and XChaCha20-Poly1305
// (answers computed with libsodium's crypto_aead_xchacha20poly1305_ietf_encrypt).

#include "worker/proxy/shadowsocks/cipher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/worker/proxy/test_bytes.h"

namespace xsup::worker::proxy::shadowsocks {
namespace {

// The names these tests were written with.
constexpr auto unhex = testing::hex;
constexpr auto hex = testing::to_hex;
using testing::counting;

TEST(ShadowsocksCipher, MethodNames) {
  EXPECT_EQ(parse_method("aes-128-gcm"), Method::kAes128Gcm);
  EXPECT_EQ(parse_method("AES-256-GCM"), Method::kAes256Gcm);
  EXPECT_EQ(parse_method("chacha20-poly1305"), Method::kChacha20Poly1305);
  EXPECT_EQ(parse_method("chacha20-ietf-poly1305"), Method::kChacha20Poly1305);
  EXPECT_EQ(parse_method("xchacha20-poly1305"), Method::kXChacha20Poly1305);
  EXPECT_FALSE(parse_method("aes-128-cfb"));
  EXPECT_FALSE(parse_method("none"));
  EXPECT_EQ(info(Method::kAes128Gcm).salt_size, 16u);
  EXPECT_EQ(info(Method::kXChacha20Poly1305).nonce_size, 24u);
}

TEST(ShadowsocksCipher, PasswordKey) {
  Key k16 = password_key("password", 16);
  EXPECT_EQ(hex({k16.data(), 16}), "5f4dcc3b5aa765d61d8327deb882cf99");
  Key k32 = password_key("password", 32);
  EXPECT_EQ(hex({k32.data(), 32}),
            "5f4dcc3b5aa765d61d8327deb882cf992b95990a9151374abd8ff8c5a7a0fe08");
}

TEST(ShadowsocksCipher, SessionSubkey) {
  Key k16 = password_key("password", 16);
  auto salt16 = counting(16);
  Key sub = session_subkey({k16.data(), 16}, salt16);
  EXPECT_EQ(hex({sub.data(), 16}), "ed2a618d9490d1701de885d82aa80616");

  Key k32 = password_key("password", 32);
  auto salt32 = counting(32);
  Key sub32 = session_subkey({k32.data(), 32}, salt32);
  EXPECT_EQ(hex({sub32.data(), 32}),
            "ee187aed3f87574907a39db98606f60a526114831288097cac66054b33a9464f");
}

TEST(ShadowsocksCipher, HChaCha20) {
  auto key = counting(32);
  auto nonce = unhex("000000090000004a0000000031415927");
  auto out = hchacha20(std::span<const std::uint8_t, 32>(key.data(), 32),
                       std::span<const std::uint8_t, 16>(nonce.data(), 16));
  EXPECT_EQ(hex(out), "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
}

TEST(ShadowsocksCipher, XChaCha20Poly1305MatchesLibsodium) {
  auto key = counting(32);
  const std::string text = "hello xchacha";
  Aead seal(Method::kXChacha20Poly1305, key, Aead::Direction::kSeal);
  ASSERT_TRUE(seal.ok());
  std::vector<std::uint8_t> buf(text.begin(), text.end());
  buf.resize(text.size() + kTagSize);
  std::span<std::uint8_t> data(buf.data(), text.size());
  ASSERT_TRUE(seal.seal(data, buf.data(),
                        std::span<std::uint8_t, kTagSize>(buf.data() + text.size(), kTagSize)));
  EXPECT_EQ(hex(buf), "fd63e0ab83a89d7a7eef1c518dcaa2f005c90b5f38c7ac7aa5af5d5fac");  // nonce 0
  std::copy(text.begin(), text.end(), buf.begin());
  ASSERT_TRUE(seal.seal(data, buf.data(),
                        std::span<std::uint8_t, kTagSize>(buf.data() + text.size(), kTagSize)));
  EXPECT_EQ(hex(buf), "d266173bf63df3e43ae64b0198b62507617ecc4aa6b4b5ae8bf6b99bd3");  // nonce 1

  Aead open(Method::kXChacha20Poly1305, key, Aead::Direction::kOpen);
  auto first = unhex("fd63e0ab83a89d7a7eef1c518dcaa2f005c90b5f38c7ac7aa5af5d5fac");
  ASSERT_TRUE(
      open.open({first.data(), text.size()}, first.data(),
                std::span<const std::uint8_t, kTagSize>(first.data() + text.size(), kTagSize)));
  EXPECT_EQ(std::string(first.begin(), first.begin() + text.size()), text);
}

TEST(ShadowsocksCipher, OpenRejectsATamperedTag) {
  auto key = counting(16);
  Aead seal(Method::kAes128Gcm, key, Aead::Direction::kSeal);
  std::array<std::uint8_t, 5 + kTagSize> buf{'h', 'e', 'l', 'l', 'o'};
  ASSERT_TRUE(seal.seal({buf.data(), 5}, buf.data(),
                        std::span<std::uint8_t, kTagSize>(buf.data() + 5, kTagSize)));
  buf[7] ^= 1;
  Aead open(Method::kAes128Gcm, key, Aead::Direction::kOpen);
  EXPECT_FALSE(open.open({buf.data(), 5}, buf.data(),
                         std::span<const std::uint8_t, kTagSize>(buf.data() + 5, kTagSize)));
}

}  // namespace
}  // namespace xsup::worker::proxy::shadowsocks
