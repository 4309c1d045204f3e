// Known answers from spec/trojan.md §6.

#include "worker/proxy/trojan/codec.h"

#include <gtest/gtest.h>

#include "tests/unit/worker/proxy/test_bytes.h"

namespace xsup::worker::proxy::trojan {
namespace {

using base::Errc;
using testing::ascii;
using testing::ByteVector;
using testing::concat;
using testing::hex;
using testing::to_hex;

constexpr std::string_view kPasswordKey =
    "d63dc919e201d7bc4c825630d2cf25fdc93d4b2f0d46706d29038d01";

TEST(TrojanCodec, PasswordKey) {
  const Key key = password_key("password");
  EXPECT_EQ(std::string_view(key.data(), key.size()), kPasswordKey);
}

TEST(TrojanCodec, TcpRequestVector) {
  const ByteVector expected =
      concat({ascii(kPasswordKey), hex("0d0a 01 030b6578616d706c652e636f6d01bb 0d0a")});
  ASSERT_EQ(expected.size(), 76u);
  Request r;
  r.key = password_key("password");
  r.command = Command::kConnect;
  r.target = net::Destination{net::Network::kTcp, net::Address::parse("example.com"), 443};
  std::array<std::uint8_t, kMaxRequestSize> out;
  const std::size_t n = encode_request(r, out);
  EXPECT_EQ(to_hex({out.data(), n}), to_hex(expected));

  ByteVector in = concat({expected, ascii("GET / HTTP/1.1\r\n")});
  auto parsed = parse_request(in);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->consumed, 76u);
  EXPECT_EQ(parsed->value.command, Command::kConnect);
  EXPECT_EQ(parsed->value.target.to_string(), "tcp:example.com:443");
  EXPECT_EQ(std::string_view(parsed->value.key.data(), kKeySize), kPasswordKey);
  auto key = peek_key(in);
  ASSERT_TRUE(key);
  EXPECT_EQ(*key, kPasswordKey);
  for (std::size_t m = 0; m < 76; ++m) {
    EXPECT_TRUE(parse_request({in.data(), m}).error().is(Errc::kNeedMore)) << m;
  }
}

TEST(TrojanCodec, UdpVector) {
  const ByteVector datagram = hex("01 01020304 0035 0005 0d0a 68656c6c6f");
  auto packet = parse_udp_packet(datagram);
  ASSERT_TRUE(packet);
  EXPECT_EQ(packet->consumed, datagram.size());
  EXPECT_EQ(packet->value.address.to_string(), "udp:1.2.3.4:53");
  EXPECT_EQ(packet->value.payload_offset, 11u);
  EXPECT_EQ(packet->value.payload_size, 5u);
  std::array<std::uint8_t, kMaxUdpHeader> header;
  const std::size_t n = encode_udp_header(packet->value.address, 5, header);
  EXPECT_EQ(to_hex({header.data(), n}),
            "01010203040035"
            "0005"
            "0d0a");
  for (std::size_t m = 0; m < datagram.size(); ++m) {
    EXPECT_TRUE(parse_udp_packet({datagram.data(), m}).error().is(Errc::kNeedMore)) << m;
  }
  // A UDP ASSOCIATE request: CMD 3, then the first packet right after the CRLF.
  ByteVector request = concat({ascii(kPasswordKey), hex("0d0a 03 01 01020304 0035 0d0a")});
  auto parsed = parse_request(request);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->value.command, Command::kUdpAssociate);
  EXPECT_EQ(parsed->value.target.to_string(), "udp:1.2.3.4:53");
}

TEST(TrojanCodec, BadInput) {
  // Short, or no CR at 56: not Trojan (a fallback trigger).
  EXPECT_TRUE(peek_key(ascii("GET / HTTP/1.1\r\n\r\n")).error().is(Errc::kProtocol));
  ByteVector no_cr = concat({ascii(kPasswordKey), ascii("XX01")});
  EXPECT_TRUE(peek_key(no_cr).error().is(Errc::kProtocol));
  EXPECT_TRUE(parse_request(no_cr).error().is(Errc::kProtocol));
  // Missing CRLF after the address.
  ByteVector bad_end = concat({ascii(kPasswordKey), hex("0d0a 01 01 7f000001 0050 0d0b")});
  EXPECT_TRUE(parse_request(bad_end).error().is(Errc::kProtocol));
  // Unknown ATYP (VLESS's IPv6 value 2 is not Trojan's).
  ByteVector bad_atyp = concat({ascii(kPasswordKey), hex("0d0a 01 02 7f000001 0050 0d0a")});
  EXPECT_TRUE(parse_request(bad_atyp).error().is(Errc::kProtocol));
  // Any command but 3 reads as CONNECT.
  ByteVector odd = concat({ascii(kPasswordKey), hex("0d0a 07 01 7f000001 0050 0d0a")});
  auto parsed = parse_request(odd);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->value.command, Command::kConnect);
  // Datagrams over 8192 bytes are refused before their payload arrives.
  EXPECT_TRUE(parse_udp_packet(hex("01 7f000001 0035 2001 0d0a")).error().is(Errc::kTooLarge));
  EXPECT_TRUE(parse_udp_packet(hex("01 7f000001 0035 0001 0d0b 00")).error().is(Errc::kProtocol));
}

}  // namespace
}  // namespace xsup::worker::proxy::trojan
