#include "shared/net/destination.h"

#include <gtest/gtest.h>

namespace xsup::net {
namespace {

TEST(Destination, ParsesHostPortForms) {
  auto d = parse_host_port("Example.COM:443", Network::kTcp);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->address.is_domain());
  EXPECT_EQ(d->address.domain(), "example.com");
  EXPECT_EQ(d->port, 443);
  EXPECT_EQ(d->to_string(), "tcp:example.com:443");

  auto v6 = parse_host_port("[::1]:53", Network::kUdp);
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->address.is_ip());
  EXPECT_EQ(v6->to_string(), "udp:[::1]:53");

  EXPECT_FALSE(parse_host_port("::1:53", Network::kTcp));
  EXPECT_FALSE(parse_host_port("host:99999", Network::kTcp));
  EXPECT_FALSE(parse_host_port("host:", Network::kTcp));
  EXPECT_FALSE(parse_host_port(":80", Network::kTcp));
}

TEST(Address, MapsV4MappedV6ToV4) {
  EXPECT_EQ(Address::parse("::ffff:10.0.0.1").to_string(), "10.0.0.1");
}

}  // namespace
}  // namespace xsup::net
