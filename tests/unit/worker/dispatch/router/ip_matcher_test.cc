#include "worker/dispatch/router/ip_matcher.h"

#include <gtest/gtest.h>

#include "tests/unit/worker/dispatch/router/geodata_builder.h"

namespace xsup::worker::dispatch::router {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

IpMatcher compile(std::vector<std::string> entries, AssetFiles& assets) {
  auto m = IpMatcher::compile(entries, assets);
  EXPECT_TRUE(m) << m.error().to_string();
  return m ? std::move(*m) : IpMatcher();
}

IpMatcher compile(std::vector<std::string> entries) {
  AssetFiles none;
  return compile(std::move(entries), none);
}

TEST(IpMatcher, HostsAndCidrs) {
  auto m = compile({"1.2.3.4", "10.0.0.0/8", "2001:db8::/32", "::1"});
  EXPECT_TRUE(m.match(ip("1.2.3.4")));
  EXPECT_FALSE(m.match(ip("1.2.3.5")));
  EXPECT_TRUE(m.match(ip("10.200.0.1")));
  EXPECT_TRUE(m.match(ip("::ffff:10.0.0.1")));  // v4-mapped counts as IPv4
  EXPECT_TRUE(m.match(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(m.match(ip("2001:db9::1")));
  EXPECT_TRUE(m.match(ip("::1")));
  EXPECT_FALSE(m.match(ip("::2")));
}

TEST(IpMatcher, NegationAndFamilies) {
  auto not_private = compile({"!10.0.0.0/8"});
  EXPECT_FALSE(not_private.match(ip("10.1.1.1")));
  EXPECT_TRUE(not_private.match(ip("8.8.8.8")));
  // No IPv6 address in the group: it never matches IPv6 (§3.3).
  EXPECT_FALSE(not_private.match(ip("2001:db8::1")));

  auto toggled = compile({"!!10.0.0.0/8"});
  EXPECT_TRUE(toggled.match(ip("10.1.1.1")));
  EXPECT_FALSE(toggled.match(ip("8.8.8.8")));

  // Negated union: neither 10/8 nor 192.168/16.
  auto neither = compile({"!10.0.0.0/8", "!192.168.0.0/16"});
  EXPECT_FALSE(neither.match(ip("192.168.1.1")));
  EXPECT_FALSE(neither.match(ip("10.0.0.1")));
  EXPECT_TRUE(neither.match(ip("172.16.0.1")));

  // Groups are OR-ed: 10/8 positive OR outside 0/0-v6's negation.
  auto mixed = compile({"10.0.0.0/8", "!2001:db8::/32"});
  EXPECT_TRUE(mixed.match(ip("10.0.0.1")));
  EXPECT_FALSE(mixed.match(ip("11.0.0.1")));
  EXPECT_TRUE(mixed.match(ip("2001:db9::1")));
  EXPECT_FALSE(mixed.match(ip("2001:db8::1")));
}

TEST(IpMatcher, GeoIp) {
  AssetFiles assets;
  assets.add("geoip.dat", geoip_list({
                              {"CN", {{"1.0.1.0", 24}, {"1.0.2.0", 23}, {"240e::", 20}}},
                              {"PRIVATE", {{"10.0.0.0", 8}, {"fc00::", 7}}},
                              {"V4ONLY", {{"203.0.113.0", 24}}},
                          }));
  assets.add("mine.dat", geoip_list({{"OFFICE", {{"198.51.100.0", 24}}}}));

  auto cn = compile({"geoip:cn"}, assets);
  EXPECT_TRUE(cn.match(ip("1.0.1.9")));
  EXPECT_TRUE(cn.match(ip("1.0.3.255")));
  EXPECT_FALSE(cn.match(ip("1.0.4.0")));
  EXPECT_TRUE(cn.match(ip("240e:1::1")));
  EXPECT_FALSE(cn.match(ip("10.0.0.1")));

  auto not_cn = compile({"geoip:!cn"}, assets);
  EXPECT_FALSE(not_cn.match(ip("1.0.1.9")));
  EXPECT_TRUE(not_cn.match(ip("8.8.8.8")));
  EXPECT_TRUE(not_cn.match(ip("2001:db8::1")));
  auto also_not_cn = compile({"!geoip:cn"}, assets);
  EXPECT_TRUE(also_not_cn.match(ip("8.8.8.8")));
  EXPECT_FALSE(also_not_cn.match(ip("1.0.1.1")));

  auto not_v4only = compile({"!geoip:v4only"}, assets);
  EXPECT_TRUE(not_v4only.match(ip("8.8.8.8")));
  EXPECT_FALSE(not_v4only.match(ip("2001:db8::1")));  // family rule

  auto ext = compile({"ext:mine.dat:office", "ext-ip:geoip.dat:private"}, assets);
  EXPECT_TRUE(ext.match(ip("198.51.100.7")));
  EXPECT_TRUE(ext.match(ip("fd00::1")));
  EXPECT_FALSE(ext.match(ip("8.8.8.8")));

  // Four groups at once: 8.8.8.8 | !10/8 (v4) | geoip:private | !geoip:cn.
  auto four = compile({"8.8.8.8", "!10.0.0.0/8", "geoip:private", "geoip:!cn"}, assets);
  EXPECT_TRUE(four.match(ip("10.0.0.1")));     // private
  EXPECT_TRUE(four.match(ip("1.0.1.1")));      // not in 10/8
  EXPECT_TRUE(four.match(ip("2001:db8::1")));  // not cn
  EXPECT_FALSE(four.match(ip("240e::1")));     // cn, not private; v4-only groups skip v6
}

TEST(IpMatcher, ManyPrefixesAndMatchAny) {
  AssetFiles none;
  std::vector<std::string> entries;
  for (int i = 0; i < 10000; ++i) {
    entries.push_back(std::to_string(1 + i / 256) + "." + std::to_string(i % 256) + ".0.0/24");
  }
  auto m = compile(entries, none);
  EXPECT_TRUE(m.match(ip("1.0.0.200")));
  EXPECT_FALSE(m.match(ip("1.0.1.0")));
  EXPECT_TRUE(m.match(ip("40.15.0.1")));
  EXPECT_FALSE(m.match(ip("40.16.0.1")));
  std::vector<asio::ip::address> ips = {ip("8.8.8.8"), ip("2.3.0.9")};
  EXPECT_TRUE(m.match_any(ips));
  EXPECT_FALSE(m.match_any(std::span(ips).first(1)));
  EXPECT_FALSE(m.match_any({}));
}

TEST(IpMatcher, AdjacentAndOverlappingRangesMerge) {
  auto m = compile({"0.0.0.0/1", "128.0.0.0/1", "255.255.255.255", "::/0", "10.0.0.0/8"});
  EXPECT_TRUE(m.match(ip("0.0.0.0")));
  EXPECT_TRUE(m.match(ip("127.255.255.255")));
  EXPECT_TRUE(m.match(ip("128.0.0.0")));
  EXPECT_TRUE(m.match(ip("255.255.255.255")));
  EXPECT_TRUE(m.match(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
}

TEST(IpMatcher, Errors) {
  AssetFiles assets;
  assets.add("geoip.dat", geoip_list({{"CN", {{"1.0.1.0", 24}}}}));
  auto bad = [&](std::string entry) {
    std::vector<std::string> entries = {"1.1.1.1", entry};
    auto m = IpMatcher::compile(entries, assets);
    if (m) return std::string("compiled");
    EXPECT_EQ(m.error().index, 1u);
    EXPECT_EQ(m.error().entry, entry);
    return m.error().message;
  };
  EXPECT_EQ(bad("10.0.0.0/33"), "invalid IP or CIDR");
  EXPECT_EQ(bad("example.com"), "invalid IP or CIDR");
  EXPECT_EQ(bad("geoip:us"), "code not found in geoip.dat: US");
  EXPECT_EQ(bad("ext:none.dat:cn"), "geoip file not found: none.dat");
  EXPECT_EQ(bad("ext:geoip.dat"), "expected ext:file:code");
  EXPECT_EQ(bad("geoip:"), "expected a file and a code");
}

}  // namespace
}  // namespace xsup::worker::dispatch::router
