// Known answers from spec/vless.md §10.

#include "worker/proxy/vless/codec.h"

#include <gtest/gtest.h>

#include "tests/unit/worker/proxy/test_bytes.h"

namespace xsup::worker::proxy::vless {
namespace {

using base::Errc;
using testing::ByteVector;
using testing::hex;
using testing::to_hex;

const ByteVector kUuid = hex("b831381d63244d53ad4f8cda48b30811");

Uuid uuid() {
  Uuid id;
  std::copy(kUuid.begin(), kUuid.end(), id.begin());
  return id;
}

std::string encode(const Request& request) {
  std::array<std::uint8_t, kMaxRequestSize> out;
  const std::size_t n = encode_request(request, out);
  return to_hex({out.data(), n});
}

Request tcp_to(net::Address address, std::uint16_t port) {
  Request r;
  r.user = uuid();
  r.command = Command::kTcp;
  r.target = net::Destination{net::Network::kTcp, std::move(address), port};
  return r;
}

TEST(VlessCodec, TcpRequestVector) {
  const std::string expected =
      "00b831381d63244d53ad4f8cda48b30811000101bb020b6578616d706c652e636f6d";
  EXPECT_EQ(encode(tcp_to(net::Address::parse("example.com"), 443)), expected);
  auto in = hex(expected);
  ASSERT_EQ(in.size(), 34u);
  auto parsed = parse_request(in);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->consumed, 34u);
  EXPECT_EQ(parsed->value.user, uuid());
  EXPECT_EQ(parsed->value.flow, "");
  EXPECT_EQ(parsed->value.command, Command::kTcp);
  EXPECT_EQ(parsed->value.target.to_string(), "tcp:example.com:443");
}

TEST(VlessCodec, VisionRequestVector) {
  const std::string expected =
      "00b831381d63244d53ad4f8cda48b30811120a1078746c732d727072782d766973696f6e"
      "0101bb020b6578616d706c652e636f6d";
  Request r = tcp_to(net::Address::parse("example.com"), 443);
  r.flow = std::string(kFlowVision);
  EXPECT_EQ(encode(r), expected);
  auto in = hex(expected);
  ASSERT_EQ(in.size(), 52u);
  auto parsed = parse_request(in);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->consumed, 52u);
  EXPECT_EQ(parsed->value.flow, "xtls-rprx-vision");
}

TEST(VlessCodec, UdpRequestAndDatagramVector) {
  Request r;
  r.user = uuid();
  r.command = Command::kUdp;
  r.target = net::Destination{net::Network::kUdp, net::Address::parse("1.2.3.4"), 53};
  EXPECT_EQ(encode(r), "00" + to_hex(kUuid) + "000200350101020304");
  auto in = testing::concat({hex("00"), kUuid, hex("000200350101020304 000568656c6c6f")});
  auto parsed = parse_request(in);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->value.target.to_string(), "udp:1.2.3.4:53");
  std::span<const std::uint8_t> rest(in.data() + parsed->consumed, in.size() - parsed->consumed);
  auto frame = parse_udp_frame(rest);
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->value, 5u);
  EXPECT_EQ(frame->consumed, 7u);
  EXPECT_EQ(to_hex(encode_udp_length(5)), "0005");
}

TEST(VlessCodec, Ipv6AndMuxVectors) {
  EXPECT_EQ(encode(tcp_to(net::Address::parse("::1"), 80)),
            "00" + to_hex(kUuid) + "000100500300000000000000000000000000000001");
  Request mux;
  mux.user = uuid();
  mux.command = Command::kMux;
  EXPECT_EQ(encode(mux), "00" + to_hex(kUuid) + "0003");
  auto in = hex("00" + to_hex(kUuid) + "0003 00aa");
  auto parsed = parse_request(in);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->value.command, Command::kMux);
  EXPECT_EQ(parsed->consumed, 19u);  // the header ends at the command byte
}

TEST(VlessCodec, ResponseVector) {
  EXPECT_EQ(to_hex(kResponse), "0000");
  auto r = parse_response(hex("0000 68656c6c6f"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, 2u);
  EXPECT_TRUE(parse_response(hex("00")).error().is(Errc::kNeedMore));
  EXPECT_TRUE(parse_response(hex("0100")).error().is(Errc::kProtocol));
  auto with_addons = parse_response(hex("0002 0a00"));
  ASSERT_TRUE(with_addons);
  EXPECT_EQ(with_addons->consumed, 4u);
}

TEST(VlessCodec, EveryPrefixNeedsMore) {
  auto in =
      hex("00b831381d63244d53ad4f8cda48b30811120a1078746c732d727072782d766973696f6e"
          "0101bb020b6578616d706c652e636f6d");
  for (std::size_t n = 0; n < in.size(); ++n) {
    auto parsed = parse_request({in.data(), n});
    ASSERT_FALSE(parsed) << n;
    EXPECT_TRUE(parsed.error().is(Errc::kNeedMore)) << n;
  }
}

TEST(VlessCodec, BadInput) {
  const std::string user = to_hex(kUuid);
  // Version 1: not VLESS (a fallback trigger), seen from the first byte.
  EXPECT_TRUE(peek_user(hex("01")).error().is(Errc::kProtocol));
  EXPECT_TRUE(peek_user(hex("00" + user.substr(0, 10))).error().is(Errc::kNeedMore));
  // Unknown command.
  EXPECT_TRUE(parse_request(hex("00" + user + "00 05")).error().is(Errc::kProtocol));
  // Unknown address type.
  EXPECT_TRUE(parse_request(hex("00" + user + "00 01 0050 04")).error().is(Errc::kProtocol));
  // Empty domain, and characters outside [0-9A-Za-z-._].
  EXPECT_TRUE(parse_request(hex("00" + user + "00 01 0050 02 00")).error().is(Errc::kProtocol));
  EXPECT_TRUE(
      parse_request(hex("00" + user + "00 01 0050 02 03 612f62")).error().is(Errc::kProtocol));
  // Addons that are not protobuf (a truncated length-delimited field, a group).
  EXPECT_TRUE(
      parse_request(hex("00" + user + "02 0a05 01 0050 01 7f000001")).error().is(Errc::kProtocol));
  EXPECT_TRUE(
      parse_request(hex("00" + user + "01 0b 01 0050 01 7f000001")).error().is(Errc::kProtocol));
  // Unknown protobuf fields are skipped (field 2 seed, field 7 varint).
  auto ok = parse_request(hex("00" + user + "05 1201ff 3801 01 0050 01 7f000001"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->value.flow, "");
}

TEST(VlessCodec, IpLookingDomainsBecomeIps) {
  const std::string user = to_hex(kUuid);
  // "127.0.0.1" sent as a domain.
  auto parsed = parse_request(hex("00" + user + "00 01 0050 02 09 3132372e302e302e31"));
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->value.target.address.is_ip());
  // "[::1]" too.
  parsed = parse_request(hex("00" + user + "00 01 0050 02 05 5b3a3a315d"));
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->value.target.address.is_ip());
  // "0::1%11": a zone makes it no IP (as Go's net.ParseIP), and '%' no domain.
  EXPECT_TRUE(parse_request(hex("00" + user + "00 01 0050 02 07 303a3a31253131"))
                  .error()
                  .is(Errc::kProtocol));
}

TEST(VlessCodec, UdpFrames) {
  EXPECT_TRUE(parse_udp_frame(hex("00")).error().is(Errc::kNeedMore));
  EXPECT_TRUE(parse_udp_frame(hex("0003 6161")).error().is(Errc::kNeedMore));
  auto empty = parse_udp_frame(hex("0000"));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->value, 0u);
  ByteVector big(2 + 65535, 0);
  big[0] = big[1] = 0xff;
  auto frame = parse_udp_frame(big);
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->value, 65535u);
}

}  // namespace
}  // namespace xsup::worker::proxy::vless
