// Known answers for the Shadowsocks AEAD stream and packet formats (spec/shadowsocks.md,
// "Test vectors"), the address codec, and the chunk opener's bounds.

#include "worker/proxy/shadowsocks/codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/worker/proxy/test_bytes.h"
#include "worker/proxy/shadowsocks/salt_filter.h"
#include "worker/proxy/shadowsocks/users.h"

namespace xsup::worker::proxy::shadowsocks {
namespace {

// The names these tests were written with.
constexpr auto unhex = testing::hex;
constexpr auto hex = testing::to_hex;
using testing::counting;

constexpr std::string_view kExampleAddress = "030b6578616d706c652e636f6d01bb";

// The first chunk of a client stream carrying only the address example.com:443.
std::vector<std::uint8_t> first_chunk(Method method) {
  const std::size_t key_size = info(method).key_size;
  Key key = password_key("password", key_size);
  auto salt = counting(info(method).salt_size);
  Key sub = session_subkey({key.data(), key_size}, salt);
  Aead aead(method, {sub.data(), key_size}, Aead::Direction::kSeal);
  auto address = unhex(kExampleAddress);
  std::vector<std::uint8_t> out(address.size() + kChunkOverhead);
  std::copy(address.begin(), address.end(), out.begin() + kLengthBlockSize);
  EXPECT_EQ(seal_chunk(aead, out, address.size()), out.size());
  return out;
}

TEST(ShadowsocksCodec, FirstChunkAes128Gcm) {
  auto chunk = first_chunk(Method::kAes128Gcm);
  EXPECT_EQ(hex({chunk.data(), kLengthBlockSize}), "5c21e5188ce46ebad51558e9c4d808a3ba03");
  EXPECT_EQ(hex({chunk.data() + kLengthBlockSize, chunk.size() - kLengthBlockSize}),
            "ff1a7ea18456ee41050a92f7f43411b3056fa41b6f469987ba4d1e253e51ab");
}

TEST(ShadowsocksCodec, FirstChunkChacha20) {
  auto chunk = first_chunk(Method::kChacha20Poly1305);
  EXPECT_EQ(hex({chunk.data(), kLengthBlockSize}), "ad47ac9c0937f236912a6ebec32771677b50");
  EXPECT_EQ(hex({chunk.data() + kLengthBlockSize, chunk.size() - kLengthBlockSize}),
            "83c3ce5d825d5be9428b2bc98d0005c06c7fd9318956bb0f6a6e081ad49f9e");
}

TEST(ShadowsocksCodec, OpenerReadsTheVectorInPieces) {
  Key key = password_key("password", 16);
  auto salt = counting(16);
  Key sub = session_subkey({key.data(), 16}, salt);
  auto wire = unhex(
      "5c21e5188ce46ebad51558e9c4d808a3ba03"
      "ff1a7ea18456ee41050a92f7f43411b3056fa41b6f469987ba4d1e253e51ab");
  ChunkOpener opener(Method::kAes128Gcm, {sub.data(), 16});
  // Every strict prefix needs more; the length block is opened once.
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto r = opener.next({wire.data(), n});
    ASSERT_FALSE(r) << n;
    EXPECT_TRUE(r.error().is(base::Errc::kNeedMore)) << n;
  }
  EXPECT_EQ(opener.wanted(), wire.size());
  auto r = opener.next(wire);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, wire.size());
  EXPECT_EQ(hex(r->value), kExampleAddress);
  auto address = parse_address(r->value, net::Network::kTcp);
  ASSERT_TRUE(address);
  EXPECT_EQ(address->value.host_port(), "example.com:443");
  EXPECT_EQ(address->consumed, r->value.size());
}

TEST(ShadowsocksCodec, OpenerRefusesAWrongKeyAndALongChunk) {
  Key key = password_key("other", 16);
  auto salt = counting(16);
  Key sub = session_subkey({key.data(), 16}, salt);
  auto wire = unhex("5c21e5188ce46ebad51558e9c4d808a3ba03");
  ChunkOpener opener(Method::kAes128Gcm, {sub.data(), 16});
  auto r = opener.next(wire);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(base::Errc::kProtocol));

  // A chunk longer than the limit is refused before its payload arrives.
  Key right = password_key("password", 16);
  Key sub2 = session_subkey({right.data(), 16}, salt);
  ChunkOpener strict(Method::kAes128Gcm, {sub2.data(), 16}, 14);
  auto r2 = strict.next(wire);
  ASSERT_FALSE(r2);
  EXPECT_TRUE(r2.error().is(base::Errc::kProtocol));
}

TEST(ShadowsocksCodec, UdpPacketVector) {
  Key key = password_key("password", 16);
  auto salt = counting(16);
  auto plain = unhex(
      "0101020304"
      "01bb"
      "68656c6c6f");
  std::vector<std::uint8_t> out(16 + plain.size() + kTagSize);
  std::copy(plain.begin(), plain.end(), out.begin() + 16);
  ASSERT_EQ(seal_packet_with_salt(Method::kAes128Gcm, {key.data(), 16}, salt, out, plain.size()),
            out.size());
  EXPECT_EQ(hex(out),
            "000102030405060708090a0b0c0d0e0f"
            "5d2fe9770478e52edf50b884a3947cc7e3a0b0ab9eb6b90fcd94d396");

  std::vector<std::uint8_t> opened(out.size());
  auto r = open_packet(Method::kAes128Gcm, {key.data(), 16}, out, opened);
  ASSERT_TRUE(r);
  auto address = parse_address(*r, net::Network::kUdp);
  ASSERT_TRUE(address);
  EXPECT_EQ(address->value.host_port(), "1.2.3.4:443");
  EXPECT_EQ(hex(r->subspan(address->consumed)), "68656c6c6f");

  out[20] ^= 0x80;
  EXPECT_FALSE(open_packet(Method::kAes128Gcm, {key.data(), 16}, out, opened));
  EXPECT_FALSE(open_packet(Method::kAes128Gcm, {key.data(), 16}, {out.data(), 31}, opened));
}

TEST(ShadowsocksCodec, AddressRoundTrip) {
  for (std::string text : {"1.2.3.4", "2001:db8::1", "example.com"}) {
    net::Address a = net::Address::parse(text);
    std::array<std::uint8_t, kMaxAddressSize> buf{};
    const std::size_t n = encode_address(a, 8080, buf);
    ASSERT_EQ(n, address_size(a)) << text;
    auto parsed = parse_address({buf.data(), n}, net::Network::kTcp);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(parsed->value.address, a);
    EXPECT_EQ(parsed->value.port, 8080);
    EXPECT_EQ(parsed->consumed, n);
  }
  // Xray masks the old one-time-auth bit.
  auto ota = unhex(
      "1101020304"
      "0050");
  auto parsed = parse_address(ota, net::Network::kTcp);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->value.host_port(), "1.2.3.4:80");
  EXPECT_FALSE(parse_address(unhex("05000000"), net::Network::kTcp));
  EXPECT_EQ(
      encode_address(net::Address::domain(std::string(256, 'a')), 1, std::span<std::uint8_t>{}),
      0u);
}

TEST(ShadowsocksUsers, MatchesTheUserWhoseKeyOpens) {
  std::vector<UserEntry> entries{
      {"a@x", "wrong", "", Method::kAes256Gcm, 0},
      {"b@x", "password", "", Method::kChacha20Poly1305, 0},
      {"c@x", "password", "", Method::kAes128Gcm, 1},
  };
  UserTable table(entries);
  EXPECT_EQ(table.max_probe_size(), 32 + kLengthBlockSize);
  // The aes-128-gcm vector: salt || first length block (34 bytes).
  auto wire = counting(16);
  auto chunk = unhex("5c21e5188ce46ebad51558e9c4d808a3ba03");
  wire.insert(wire.end(), chunk.begin(), chunk.end());
  std::vector<bool> tried;
  // 34 bytes: only the aes-128-gcm user can be tried yet, and it opens.
  EXPECT_EQ(table.match_stream(wire, tried), 2);
  EXPECT_FALSE(tried[0]);
  EXPECT_TRUE(tried[2]);

  wire[20] ^= 1;
  tried.clear();
  EXPECT_EQ(table.match_stream(wire, tried), -1);
}

TEST(ShadowsocksSaltFilter, RefusesReplaysAndForgetsOldGenerations) {
  SaltFilter filter(2);
  auto a = counting(16);
  auto b = unhex("0101010101010101010101010101010101");
  auto c = unhex("ff000000000000000000000000000000");
  EXPECT_TRUE(filter.insert(a));
  EXPECT_FALSE(filter.insert(a));
  EXPECT_TRUE(filter.insert(b));  // a and b move to the previous generation
  EXPECT_FALSE(filter.insert(a));
  EXPECT_TRUE(filter.insert(c));
  EXPECT_TRUE(filter.contains(c));
}

}  // namespace
}  // namespace xsup::worker::proxy::shadowsocks
