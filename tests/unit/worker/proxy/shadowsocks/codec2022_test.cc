// Known answers for Shadowsocks 2022 (spec/shadowsocks.md "2022" vectors: AES-128-GCM, PSK
// 000102..0f, timestamp 1700000000), the identity headers (SIP023), UDP packets and the
// packet-id replay window.

#include "worker/proxy/shadowsocks/codec2022.h"

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

Key key_of(const std::vector<std::uint8_t>& bytes) {
  Key k{};
  std::copy(bytes.begin(), bytes.end(), k.begin());
  return k;
}

constexpr std::int64_t kNow = 1700000000;
const net::Destination kExample{net::Network::kTcp, net::Address::parse("example.com"), 443};

constexpr std::string_view kRequestWire =
    "f62b42ac395d4aead07a65d09471860919e806ee8ea58821dd5f47"
    "e19e0c3dc0253175322489f04f22537d6f54e5b97792368df2feae5fe02982aee765edb35a70";

TEST(Shadowsocks2022, SessionSubkey) {
  const auto psk = counting(16);
  const auto salt = counting(16, 0x10);
  Key key = derive_session_key(Method::k2022Aes128Gcm, psk, salt);
  EXPECT_EQ(hex({key.data(), 16}), "bc32fb8d5205f7b84f9691dfb9f04ff3");
  Key response = derive_session_key(Method::k2022Aes128Gcm, psk, counting(16, 0x20));
  EXPECT_EQ(hex({response.data(), 16}), "8180421f8f56092ca7544a64ff852536");
}

TEST(Shadowsocks2022, RequestHeadersVector) {
  const auto psk = counting(16);
  const auto salt = counting(16, 0x10);
  Key key = derive_session_key(Method::k2022Aes128Gcm, psk, salt);
  Aead sealer(Method::k2022Aes128Gcm, {key.data(), 16}, Aead::Direction::kSeal);
  const std::string hello = "hello";
  std::vector<std::uint8_t> out(200);
  const std::size_t n = seal_request_headers(
      sealer, kNow, kExample, 0, {reinterpret_cast<const std::uint8_t*>(hello.data()), 5}, out);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(hex({out.data(), n}), kRequestWire);

  // The server's side: open both headers and parse them.
  auto wire = unhex(kRequestWire);
  ChunkOpener opener(Method::k2022Aes128Gcm, {key.data(), 16}, kMaxChunkPayload2022);
  auto fixed = opener.open_block(wire, kFixedRequestSize);
  ASSERT_TRUE(fixed);
  EXPECT_EQ(hex(fixed->value), "00000000006553f1000016");
  auto var_size = parse_fixed_request(fixed->value, kNow + 29);
  ASSERT_TRUE(var_size);
  EXPECT_EQ(*var_size, 22u);
  EXPECT_FALSE(parse_fixed_request(fixed->value, kNow + 31));
  EXPECT_FALSE(parse_fixed_request(fixed->value, kNow - 31));
  auto var = opener.open_block(std::span(wire).subspan(fixed->consumed), *var_size);
  ASSERT_TRUE(var);
  auto request = parse_variable_request(var->value);
  ASSERT_TRUE(request);
  EXPECT_EQ(request->target.host_port(), "example.com:443");
  EXPECT_EQ(hex(var->value.subspan(request->payload_offset)), "68656c6c6f");

  // Neither padding nor payload: refused both ways.
  EXPECT_EQ(seal_request_headers(sealer, kNow, kExample, 0, {}, out), 0u);
  auto empty = unhex("030b6578616d706c652e636f6d01bb0000");
  EXPECT_FALSE(parse_variable_request(empty));
  auto padded = unhex("030b6578616d706c652e636f6d01bb0002abcd");
  EXPECT_TRUE(parse_variable_request(padded));
  auto short_padding = unhex("030b6578616d706c652e636f6d01bb0003abcd");
  EXPECT_FALSE(parse_variable_request(short_padding));
}

TEST(Shadowsocks2022, ResponseVector) {
  const auto psk = counting(16);
  const auto request_salt = counting(16, 0x10);
  Key key = derive_session_key(Method::k2022Aes128Gcm, psk, counting(16, 0x20));
  Aead sealer(Method::k2022Aes128Gcm, {key.data(), 16}, Aead::Direction::kSeal);
  std::vector<std::uint8_t> out(64);
  const std::size_t h = encode_fixed_response(kNow + 1, request_salt, 5, out);
  ASSERT_EQ(h, fixed_response_size(16));
  EXPECT_EQ(hex({out.data(), h}), "01000000006553f101101112131415161718191a1b1c1d1e1f0005");
  ASSERT_TRUE(sealer.seal({out.data(), h}, out.data(),
                          std::span<std::uint8_t, kTagSize>(out.data() + h, kTagSize)));
  EXPECT_EQ(hex({out.data(), h + kTagSize}),
            "cfd439ccd5cb580033874d1521cc11d623310888444d4ba6dd1abeb9e080cdb7f1fbc811c193492827aa"
            "f4");
  std::vector<std::uint8_t> world{'w', 'o', 'r', 'l', 'd', 0, 0, 0, 0, 0, 0,
                                  0,   0,   0,   0,   0,   0, 0, 0, 0, 0};
  ASSERT_TRUE(sealer.seal({world.data(), 5}, world.data(),
                          std::span<std::uint8_t, kTagSize>(world.data() + 5, kTagSize)));
  EXPECT_EQ(hex(world), "69b2e0840ee112e31ffa5d6f36ede97a0e60c163ea");

  // The client's checks.
  auto plain = unhex("01000000006553f101101112131415161718191a1b1c1d1e1f0005");
  auto length = parse_fixed_response(plain, kNow, request_salt);
  ASSERT_TRUE(length);
  EXPECT_EQ(*length, 5u);
  EXPECT_FALSE(parse_fixed_response(plain, kNow, counting(16, 0x11)));  // another request
  EXPECT_FALSE(parse_fixed_response(plain, kNow + 40, request_salt));
  plain[0] = 0;
  EXPECT_FALSE(parse_fixed_response(plain, kNow, request_salt));
}

TEST(Shadowsocks2022, IdentityHeaderVector) {
  const auto ipsk = counting(16);
  const auto upsk = counting(16, 0x40);
  const auto salt = counting(16, 0x10);
  Key sub = identity_subkey(ipsk, salt);
  EXPECT_EQ(hex({sub.data(), 16}), "c6929b0d4d713bf21148dfc4f34dd083");
  EXPECT_EQ(hex(psk_hash(upsk)), "bc284c0c970c53f53bc5e4e671a0386b");
  const Key chain[2] = {key_of(ipsk), key_of(upsk)};
  std::array<std::uint8_t, 16> eih{};
  ASSERT_EQ(encode_tcp_identity(chain, 16, salt, eih), 16u);
  EXPECT_EQ(hex(eih), "fd34ad3f859ba89c8f5b82201aac61b7");
  PskHash named{};
  ASSERT_TRUE(decode_tcp_identity(ipsk, salt, eih, named));
  EXPECT_EQ(hex(named), "bc284c0c970c53f53bc5e4e671a0386b");
  Key session = derive_session_key(Method::k2022Aes128Gcm, upsk, salt);
  EXPECT_EQ(hex({session.data(), 16}), "65c2da23a0d43b9db0490d56a7fad32d");
}

TEST(Shadowsocks2022, UdpAesVector) {
  const auto psk = counting(16);
  Key body_key = udp_session_key(Method::k2022Aes128Gcm, psk, 0x0102030405060708);
  EXPECT_EQ(hex({body_key.data(), 16}), "b8473b44792f673ee36a405dfa755cc4");
  std::vector<std::uint8_t> out(128);
  const std::size_t prefix = udp_prefix_size(Method::k2022Aes128Gcm, 0);
  const net::Destination to{net::Network::kUdp, net::Address::parse("1.2.3.4"), 443};
  const std::size_t h = encode_udp_main_header(kTypeClient, kNow, 0, 0, to,
                                               {out.data() + prefix, out.size() - prefix});
  ASSERT_GT(h, 0u);
  std::memcpy(out.data() + prefix + h, "hello", 5);
  EXPECT_EQ(hex({out.data() + prefix, h + 5}),
            "00000000006553f100000001010203040"
            "1bb68656c6c6f");
  const Key chain[1] = {key_of(psk)};
  const std::size_t n = seal_udp_packet(Method::k2022Aes128Gcm, chain, {body_key.data(), 16},
                                        {0x0102030405060708, 0}, out, h + 5);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(hex({out.data(), n}),
            "18ba69bb4661fee5a7cc9ec1a731e278"
            "0f887748f59fbaddc74035aaf1fa9344189e937ae67325629b2f674d5ecb7c03a63a42ca0c73cc");

  // And back.
  std::uint8_t plain[16];
  UdpPacketHeader header;
  ASSERT_TRUE(open_udp_separate_header(psk, out.data(), plain, header));
  EXPECT_EQ(header.session_id, 0x0102030405060708u);
  EXPECT_EQ(header.packet_id, 0u);
  auto body = open_udp_body(Method::k2022Aes128Gcm, {body_key.data(), 16}, plain,
                            {out.data() + 16, n - 16});
  ASSERT_TRUE(body);
  auto main = parse_udp_main_header(*body, kTypeClient, kNow);
  ASSERT_TRUE(main);
  EXPECT_EQ(main->address.host_port(), "1.2.3.4:443");
  EXPECT_EQ(hex(body->subspan(main->payload_offset)), "68656c6c6f");
  EXPECT_FALSE(parse_udp_main_header(*body, kTypeServer, kNow));
  EXPECT_FALSE(parse_udp_main_header(*body, kTypeClient, kNow + 31));
}

TEST(Shadowsocks2022, UdpIdentityHeaderRoundTrip) {
  const auto ipsk = counting(16);
  const auto upsk = counting(16, 0x40);
  const Key chain[2] = {key_of(ipsk), key_of(upsk)};
  Key body_key = udp_session_key(Method::k2022Aes128Gcm, upsk, 77);
  std::vector<std::uint8_t> out(128);
  const std::size_t prefix = udp_prefix_size(Method::k2022Aes128Gcm, 1);
  EXPECT_EQ(prefix, 32u);
  std::memcpy(out.data() + prefix, "payload", 7);
  const std::size_t n =
      seal_udp_packet(Method::k2022Aes128Gcm, chain, {body_key.data(), 16}, {77, 5}, out, 7);
  ASSERT_EQ(n, 32u + 7 + 16);
  std::uint8_t plain[16];
  UdpPacketHeader header;
  ASSERT_TRUE(open_udp_separate_header(ipsk, out.data(), plain, header));
  EXPECT_EQ(header.session_id, 77u);
  EXPECT_EQ(header.packet_id, 5u);
  PskHash named{};
  ASSERT_TRUE(decode_udp_identity(ipsk, out.data() + 16, plain, named));
  EXPECT_EQ(named, psk_hash(upsk));
  auto body = open_udp_body(Method::k2022Aes128Gcm, {body_key.data(), 16}, plain,
                            {out.data() + 32, n - 32});
  ASSERT_TRUE(body);
  EXPECT_EQ(std::string(body->begin(), body->end()), "payload");
}

TEST(Shadowsocks2022, UdpChachaVector) {
  const auto psk = counting(32);
  const auto nonce = counting(24, 0x50);
  std::vector<std::uint8_t> out(128);
  const std::size_t prefix = udp_prefix_size(Method::k2022Chacha20Poly1305, 0);
  auto plain = unhex(
      "00000000006553f10000000101020304"
      "01bb68656c6c6f");
  std::copy(plain.begin(), plain.end(), out.begin() + static_cast<std::ptrdiff_t>(prefix));
  const std::size_t n =
      seal_udp_chacha_with_nonce(psk, std::span<const std::uint8_t, 24>(nonce.data(), 24),
                                 {0x0102030405060708, 0}, out, plain.size());
  ASSERT_GT(n, 0u);
  EXPECT_EQ(hex({out.data(), n}),
            "505152535455565758595a5b5c5d5e5f6061626364656667"
            "a90713ee6a4190db733d6e0b4980c7f95bd3c450897357b8c7e7655158527b53e28b3f4596138e1522e13"
            "01f6dd76e3d1145dfe24babd8");
  UdpPacketHeader header;
  auto body = open_udp_chacha(psk, {out.data(), n}, header);
  ASSERT_TRUE(body);
  EXPECT_EQ(header.session_id, 0x0102030405060708u);
  EXPECT_EQ(hex(*body), hex(plain));
}

TEST(Shadowsocks2022, PacketWindow) {
  PacketWindow w;
  EXPECT_TRUE(w.accept(0));
  EXPECT_FALSE(w.accept(0));
  EXPECT_TRUE(w.accept(2));
  EXPECT_TRUE(w.accept(1));
  EXPECT_FALSE(w.accept(1));
  EXPECT_TRUE(w.accept(10000));
  EXPECT_FALSE(w.accept(2));    // far below the top: refused
  EXPECT_TRUE(w.accept(9000));  // within the window
  EXPECT_FALSE(w.accept(9000));
  EXPECT_TRUE(w.accept(1u << 30));
  EXPECT_TRUE(w.accept((1u << 30) - 1));
}

}  // namespace
}  // namespace xsup::worker::proxy::shadowsocks
