// spec/vless.md §9.3: the PROXY header sent to a fallback.

#include "worker/proxy/fallback/proxy_header.h"

#include <gtest/gtest.h>

#include "tests/unit/worker/proxy/test_bytes.h"

namespace xsup::worker::proxy::fallback {
namespace {

using testing::to_hex;

net::Destination at(std::string_view ip, std::uint16_t port) {
  return net::Destination{net::Network::kTcp, net::Address::parse(ip), port};
}

std::string text(const ProxyHeader& h) {
  return {reinterpret_cast<const char*>(h.data.data()), h.size};
}

TEST(ProxyHeader, Version1) {
  EXPECT_EQ(text(encode_proxy_header(1, at("192.0.2.1", 40000), at("127.0.0.1", 443))),
            "PROXY TCP4 192.0.2.1 127.0.0.1 40000 443\r\n");
  EXPECT_EQ(text(encode_proxy_header(1, at("2001:db8::1", 5), at("::1", 443))),
            "PROXY TCP6 2001:db8::1 ::1 5 443\r\n");
  // An IPv4 client on a dual-stack socket is IPv4.
  EXPECT_EQ(text(encode_proxy_header(1, at("::ffff:192.0.2.1", 1), at("::ffff:127.0.0.1", 2))),
            "PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n");
  EXPECT_EQ(text(encode_proxy_header(1, at("192.0.2.1", 1), at("::1", 2))), "PROXY UNKNOWN\r\n");
}

TEST(ProxyHeader, Version2) {
  EXPECT_EQ(to_hex(encode_proxy_header(2, at("192.0.2.1", 40000), at("127.0.0.1", 443)).span()),
            "0d0a0d0a000d0a515549540a"
            "2111000c"
            "c0000201"
            "7f000001"
            "9c40"
            "01bb");
  EXPECT_EQ(to_hex(encode_proxy_header(2, at("::2", 1), at("::1", 2)).span()),
            "0d0a0d0a000d0a515549540a"
            "21210024"
            "00000000000000000000000000000002"
            "00000000000000000000000000000001"
            "0001"
            "0002");
  EXPECT_EQ(to_hex(encode_proxy_header(2, at("192.0.2.1", 1), at("::1", 2)).span()),
            "0d0a0d0a000d0a515549540a20000000");
  EXPECT_EQ(encode_proxy_header(0, at("192.0.2.1", 1), at("127.0.0.1", 2)).size, 0u);
}

}  // namespace
}  // namespace xsup::worker::proxy::fallback
