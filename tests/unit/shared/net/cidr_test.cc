#include "shared/net/cidr.h"

#include <gtest/gtest.h>

#include "shared/net/port_list.h"

namespace xsup::net {
namespace {

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

TEST(Cidr, MatchesPrefixes) {
  auto c = Cidr::parse("10.1.2.3/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->network.to_string(), "10.0.0.0");
  EXPECT_TRUE(c->contains(ip("10.255.0.1")));
  EXPECT_FALSE(c->contains(ip("11.0.0.1")));
  EXPECT_TRUE(c->contains(ip("::ffff:10.0.0.9")));
  EXPECT_FALSE(c->contains(ip("::1")));

  auto odd = Cidr::parse("192.168.0.0/23");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains(ip("192.168.1.200")));
  EXPECT_FALSE(odd->contains(ip("192.168.2.1")));

  auto v6 = Cidr::parse("2001:db8::/33");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(ip("2001:db8:7fff::1")));
  EXPECT_FALSE(v6->contains(ip("2001:db8:8000::1")));

  auto host = Cidr::parse("1.2.3.4");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->prefix, 32);
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(ip("8.8.8.8")));
}

TEST(Cidr, RejectsMalformed) {
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33"));
  EXPECT_FALSE(Cidr::parse("::/129"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/"));
  EXPECT_FALSE(Cidr::parse("example.com"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/8x"));
}

TEST(PortList, ParsesXrayForms) {
  auto p = PortList::parse("53,443,1000-2000");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->contains(53));
  EXPECT_TRUE(p->contains(1500));
  EXPECT_FALSE(p->contains(80));
  EXPECT_FALSE(PortList::parse("10-5"));
  EXPECT_FALSE(PortList::parse("70000"));
  EXPECT_FALSE(PortList::parse("1,,2"));
  EXPECT_FALSE(PortList::parse("abc"));
}

}  // namespace
}  // namespace xsup::net
