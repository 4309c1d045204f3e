// Known answers from spec/mux.md §4.

#include "worker/proxy/mux/codec.h"

#include <gtest/gtest.h>

#include "tests/unit/worker/proxy/test_bytes.h"

namespace xsup::worker::proxy::mux {
namespace {

using base::Errc;
using testing::ByteVector;
using testing::hex;
using testing::to_hex;

// The header of `frame` followed by `data`, as hex.
std::string encode(const Frame& frame, std::string_view data = {}) {
  std::array<std::uint8_t, kMaxFrameHeader> out;
  const std::size_t n = encode_frame(frame, out);
  if (n == 0) return "";
  return to_hex({out.data(), n}) +
         to_hex({reinterpret_cast<const std::uint8_t*>(data.data()), data.size()});
}

Frame frame(std::uint16_t id, Status status, std::uint8_t option, std::size_t data_size = 0) {
  Frame f;
  f.session_id = id;
  f.status = status;
  f.option = option;
  f.data_size = data_size;
  return f;
}

net::Destination to(net::Network network, std::string_view host, std::uint16_t port) {
  return net::Destination{network, net::Address::parse(host), port};
}

// Parses `hex_frame` fully: the header and exactly data_size bytes after it.
Frame parse_all(const std::string& hex_frame) {
  const ByteVector in = hex(hex_frame);
  auto parsed = parse_frame(in);
  EXPECT_TRUE(parsed) << parsed.error().message();
  if (!parsed) return {};
  EXPECT_EQ(parsed->consumed + parsed->value.data_size, in.size());
  for (std::size_t n = 0; n < parsed->consumed; ++n) {
    auto partial = parse_frame(std::span(in).first(n));
    EXPECT_FALSE(partial);
    if (!partial) {
      EXPECT_TRUE(partial.error().is(Errc::kNeedMore)) << n;
    }
  }
  return parsed->value;
}

TEST(MuxCodec, NewTcpWithData) {
  const std::string expected = "0014000101010101bb020b6578616d706c652e636f6d000568656c6c6f";
  Frame f = frame(1, Status::kNew, kOptionData, 5);
  f.address = to(net::Network::kTcp, "example.com", 443);
  EXPECT_EQ(encode(f, "hello"), expected);
  const Frame parsed = parse_all(expected);
  EXPECT_EQ(parsed.session_id, 1);
  EXPECT_EQ(parsed.status, Status::kNew);
  EXPECT_TRUE(parsed.has_data());
  EXPECT_EQ(parsed.data_size, 5u);
  ASSERT_TRUE(parsed.address);
  EXPECT_EQ(parsed.address->to_string(), "tcp:example.com:443");
  EXPECT_FALSE(parsed.global_id);
}

TEST(MuxCodec, NewTcpWithoutData) {
  const std::string expected = "0014000101000101bb020b6578616d706c652e636f6d";
  Frame f = frame(1, Status::kNew, 0);
  f.address = to(net::Network::kTcp, "example.com", 443);
  EXPECT_EQ(encode(f), expected);
  const Frame parsed = parse_all(expected);
  EXPECT_FALSE(parsed.has_data());
  EXPECT_EQ(parsed.data_size, 0u);
}

TEST(MuxCodec, KeepEndKeepAlive) {
  EXPECT_EQ(encode(frame(1, Status::kKeep, kOptionData, 5), "hello"), "000400010201000568656c6c6f");
  EXPECT_EQ(encode(frame(1, Status::kEnd, 0)),
            "0004000103"
            "00");
  EXPECT_EQ(encode(frame(1, Status::kEnd, kOptionError)),
            "0004000103"
            "02");
  EXPECT_EQ(encode(frame(0, Status::kKeepAlive, 0)),
            "0004000004"
            "00");
  const Frame keep = parse_all("000400010201000568656c6c6f");
  EXPECT_EQ(keep.status, Status::kKeep);
  EXPECT_EQ(keep.data_size, 5u);
  EXPECT_FALSE(keep.address);
  const Frame end = parse_all(
      "0004000103"
      "02");
  EXPECT_EQ(end.status, Status::kEnd);
  EXPECT_TRUE(end.has_error());
  EXPECT_EQ(parse_all("0004000004"
                      "00")
                .status,
            Status::kKeepAlive);
}

TEST(MuxCodec, XudpNewWithGlobalId) {
  const std::string expected = "00140000010102003501010203040102030405060708000568656c6c6f";
  Frame f = frame(0, Status::kNew, kOptionData, 5);
  f.address = to(net::Network::kUdp, "1.2.3.4", 53);
  f.global_id = GlobalId{1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(encode(f, "hello"), expected);
  const Frame parsed = parse_all(expected);
  ASSERT_TRUE(parsed.address);
  EXPECT_EQ(parsed.address->to_string(), "udp:1.2.3.4:53");
  ASSERT_TRUE(parsed.global_id);
  EXPECT_EQ(*parsed.global_id, (GlobalId{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(MuxCodec, XudpKeepWithAddress) {
  const std::string expected = "000c000002010200350101020304000568656c6c6f";
  Frame f = frame(0, Status::kKeep, kOptionData, 5);
  f.address = to(net::Network::kUdp, "1.2.3.4", 53);
  EXPECT_EQ(encode(f, "hello"), expected);
  const Frame parsed = parse_all(expected);
  ASSERT_TRUE(parsed.address);
  EXPECT_EQ(parsed.address->to_string(), "udp:1.2.3.4:53");
}

TEST(MuxCodec, ZeroGlobalIdAndTrailingBytesAreIgnored) {
  // New UDP with an all-zero Global ID, then a New TCP with 3 stray bytes.
  const Frame udp = parse_all("00140000010102003501010203040000000000000000000568656c6c6f");
  EXPECT_FALSE(udp.global_id);
  const Frame tcp = parse_all(
      "000f0001010001"
      "4e84"
      "01"
      "7f000001"
      "aabbcc");
  ASSERT_TRUE(tcp.address);
  EXPECT_EQ(tcp.address->to_string(), "tcp:127.0.0.1:20100");
  // A Keep whose byte[4] is not UDP carries no address.
  EXPECT_FALSE(parse_all("0005000102"
                         "00"
                         "01")
                   .address);
}

TEST(MuxCodec, Errors) {
  auto is = [](const std::string& h, Errc e) {
    const ByteVector in = hex(h);
    auto parsed = parse_frame(in);
    return !parsed && parsed.error().is(e);
  };
  // 513 > 512; shorter than 4; New shorter than 8; unknown status; unknown network;
  // an IPv4 address overrunning the metadata; an unknown ATYP.
  for (const char* bad : {"0201", "0003000102", "0007000101000101bb", "000400010500",
                          "0008000101000301bb01", "0008000101000101bb01", "0008000101000101bb09"}) {
    EXPECT_TRUE(is(bad, Errc::kProtocol)) << bad;
  }
  EXPECT_TRUE(
      is("0004000102"
         "01"
         "00",
         Errc::kNeedMore));  // half a data length
}

TEST(MuxCodec, EncoderRefusals) {
  std::array<std::uint8_t, kMaxFrameHeader> out;
  EXPECT_EQ(encode_frame(frame(1, Status::kNew, 0), out), 0u);  // New without an address
  Frame keep_tcp = frame(1, Status::kKeep, 0);
  keep_tcp.address = to(net::Network::kTcp, "1.2.3.4", 1);
  EXPECT_EQ(encode_frame(keep_tcp, out), 0u);
  std::array<std::uint8_t, 8> small;
  EXPECT_EQ(encode_frame(frame(1, Status::kEnd, 0), small), 0u);
}

}  // namespace
}  // namespace xsup::worker::proxy::mux
