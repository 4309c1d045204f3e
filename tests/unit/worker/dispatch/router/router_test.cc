#include "worker/dispatch/router/router.h"

#include <gtest/gtest.h>

#include "tests/unit/worker/dispatch/router/geodata_builder.h"

namespace xsup::worker::dispatch::router {
namespace {

using config::RoutingRule;
using config::RoutingStrategy;
using namespace testing;  // NOLINT(google-build-using-namespace)

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

net::PortList ports(const char* text) { return *net::PortList::parse(text); }

RoutingRule rule(std::string outbound) {
  RoutingRule r;
  r.outbound_tag = std::move(outbound);
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  Router compile(std::vector<RoutingRule> rules,
                 RoutingStrategy strategy = RoutingStrategy::kAsIs) {
    config::RoutingConfig config;
    config.domain_strategy = strategy;
    config.rules = std::move(rules);
    auto router = Router::compile(config, outbounds_, assets_);
    EXPECT_TRUE(router) << router.error().to_string();
    return std::move(*router);
  }

  static RouteInput to(const char* host, std::uint16_t port = 443) {
    RouteInput in;
    in.inbound_tag = "in";
    in.target.address = net::Address::parse(host);
    in.target.port = port;
    return in;
  }

  // The tag a synchronous caller ends up with; `resolved` plays the DNS answer.
  static std::string route(const Router& router, const RouteInput& in,
                           std::vector<asio::ip::address> resolved = {},
                           bool* resolved_called = nullptr) {
    auto decision = router.first_pass(in);
    if (resolved_called) *resolved_called = !decision;
    if (!decision) decision = router.second_pass(in, resolved);
    return decision->matched() ? decision->outbound_tag + decision->balancer_tag : "default";
  }

  std::vector<std::string> outbounds_ = {"direct", "proxy", "block"};
  AssetFiles assets_;
};

TEST_F(RouterTest, FirstMatchingRuleWinsAndNoMatchIsDefault) {
  auto a = rule("block");
  a.domain = {"domain:ads.example"};
  auto b = rule("proxy");
  b.domain = {"example"};
  auto c = rule("direct");
  c.domain = {"domain:ads.example"};
  auto router = compile({a, b, c});
  EXPECT_EQ(route(router, to("x.ads.example")), "block");
  EXPECT_EQ(route(router, to("www.example.org")), "proxy");
  EXPECT_EQ(route(router, to("other.org")), "default");
  auto d = router.first_pass(to("x.ads.example"));
  ASSERT_TRUE(d && d->matched());
  EXPECT_EQ(*d->rule, 0u);
  EXPECT_TRUE(d->outbound_known);
}

TEST_F(RouterTest, FieldsAreAndEntriesAreOr) {
  auto r = rule("proxy");
  r.domain = {"full:a.example", "full:b.example"};
  r.port = ports("443,8443");
  r.network = std::vector{net::Network::kTcp};
  auto router = compile({r});
  EXPECT_EQ(route(router, to("a.example", 443)), "proxy");
  EXPECT_EQ(route(router, to("b.example", 8443)), "proxy");
  EXPECT_EQ(route(router, to("b.example", 80)), "default");
  auto udp = to("a.example", 443);
  udp.network = net::Network::kUdp;
  EXPECT_EQ(route(router, udp), "default");
}

TEST_F(RouterTest, InboundTagAndUser) {
  auto tagged = rule("proxy");
  tagged.inbound_tag = {"vless-in", "socks-in"};
  auto users = rule("block");
  users.user = {"alice@example.com", "regexp:^bob\\d+@", "regexp:(bad"};
  auto router = compile({tagged, users});
  auto in = to("example.com");
  in.inbound_tag = "socks-in";
  EXPECT_EQ(route(router, in), "proxy");
  in.inbound_tag = "";
  EXPECT_EQ(route(router, in), "default");  // an empty inbound tag never matches
  in.inbound_tag = "other";
  in.user = "alice@example.com";
  EXPECT_EQ(route(router, in), "block");
  in.user = "bob42@example.com";
  EXPECT_EQ(route(router, in), "block");
  in.user = "bob@example.com";
  EXPECT_EQ(route(router, in), "default");
  in.user = "Alice@example.com";
  EXPECT_EQ(route(router, in), "default");
  in.user = "";
  EXPECT_EQ(route(router, in), "default");
}

TEST_F(RouterTest, ProtocolIsAPrefixMatch) {
  auto r = rule("proxy");
  r.protocol = {"http", "bittorrent"};
  auto router = compile({r});
  auto in = to("example.com", 80);
  in.protocol = "http1";
  EXPECT_EQ(route(router, in), "proxy");
  in.protocol = "bittorrent";
  EXPECT_EQ(route(router, in), "proxy");
  in.protocol = "tls";
  EXPECT_EQ(route(router, in), "default");
  in.protocol = "";
  EXPECT_EQ(route(router, in), "default");
}

TEST_F(RouterTest, SourceAndLocalPortsAndIps) {
  auto by_ports = rule("proxy");
  by_ports.source_port = ports("1000-2000");
  by_ports.local_port = ports("1080");
  auto by_ips = rule("block");
  by_ips.source_ip = {"192.168.0.0/16"};
  by_ips.local_ip = {"127.0.0.1"};
  auto router = compile({by_ports, by_ips});
  auto in = to("example.com");
  in.source_port = 1500;
  in.local_port = 1080;
  EXPECT_EQ(route(router, in), "proxy");
  in.local_port = 1081;
  EXPECT_EQ(route(router, in), "default");
  in.source_ip = ip("192.168.1.2");
  EXPECT_EQ(route(router, in), "default");  // no local IP known
  in.local_ip = ip("127.0.0.1");
  EXPECT_EQ(route(router, in), "block");
  in.source_ip = ip("10.0.0.1");
  EXPECT_EQ(route(router, in), "default");
}

TEST_F(RouterTest, SniffedRouteDomainReplacesTheTarget) {
  auto r = rule("proxy");
  r.domain = {"domain:example.com"};
  auto router = compile({r});
  auto in = to("93.184.216.34");
  EXPECT_EQ(route(router, in), "default");  // an IP target has no domain
  in.route_domain = "WWW.Example.com";      // sniffed, compared lower-cased
  EXPECT_EQ(route(router, in), "proxy");
  auto other = to("example.com");
  other.route_domain = "other.org";
  EXPECT_EQ(route(router, other), "default");
}

TEST_F(RouterTest, BalancerAndUnknownOutbound) {
  auto balanced = rule("");
  balanced.balancer_tag = "pool";
  balanced.port = ports("80");
  auto both = rule("direct");
  both.balancer_tag = "pool";
  both.port = ports("81");
  auto unknown = rule("nowhere");
  unknown.port = ports("82");
  auto router = compile({balanced, both, unknown});
  auto d = *router.first_pass(to("example.com", 80));
  EXPECT_EQ(d.balancer_tag, "pool");
  EXPECT_TRUE(d.outbound_tag.empty());
  d = *router.first_pass(to("example.com", 81));
  EXPECT_EQ(d.outbound_tag, "direct");  // outboundTag wins
  EXPECT_TRUE(d.balancer_tag.empty());
  d = *router.first_pass(to("example.com", 82));
  EXPECT_TRUE(d.matched());
  EXPECT_EQ(d.outbound_tag, "nowhere");
  EXPECT_FALSE(d.outbound_known);  // the caller closes the connection (§3.5)
}

TEST_F(RouterTest, IpRulesSeeLiteralTargetsUnderAsIs) {
  auto r = rule("direct");
  r.ip = {"10.0.0.0/8", "!0.0.0.0/0"};
  auto router = compile({r});
  bool resolved = false;
  EXPECT_EQ(route(router, to("10.1.2.3"), {}, &resolved), "direct");
  EXPECT_FALSE(resolved);
  EXPECT_EQ(route(router, to("internal.example"), {ip("10.0.0.1")}, &resolved), "default");
  EXPECT_FALSE(resolved);  // AsIs never resolves
  EXPECT_EQ(route(router, to("2001:db8::1")), "default");
}

TEST_F(RouterTest, IpIfNonMatchResolvesOnlyWhenNothingMatched) {
  auto by_domain = rule("proxy");
  by_domain.domain = {"domain:proxied.example"};
  auto by_ip = rule("direct");
  by_ip.ip = {"10.0.0.0/8"};
  auto router = compile({by_domain, by_ip}, RoutingStrategy::kIpIfNonMatch);
  bool resolved = false;
  EXPECT_EQ(route(router, to("a.proxied.example"), {ip("10.0.0.1")}, &resolved), "proxy");
  EXPECT_FALSE(resolved);
  EXPECT_EQ(route(router, to("internal.example"), {ip("10.0.0.1")}, &resolved), "direct");
  EXPECT_TRUE(resolved);
  EXPECT_EQ(route(router, to("public.example"), {ip("8.8.8.8")}, &resolved), "default");
  EXPECT_TRUE(resolved);
  EXPECT_EQ(Router::domain_to_resolve(to("public.example")), "public.example");
  // No domain: nothing to resolve, the first pass decides.
  EXPECT_EQ(route(router, to("10.9.9.9"), {}, &resolved), "direct");
  EXPECT_FALSE(resolved);
  EXPECT_EQ(route(router, to("8.8.8.8"), {}, &resolved), "default");
  EXPECT_FALSE(resolved);
  // DNS-originated queries never resolve.
  auto dns = to("internal.example");
  dns.skip_resolve = true;
  EXPECT_EQ(route(router, dns, {ip("10.0.0.1")}, &resolved), "default");
  EXPECT_FALSE(resolved);
}

TEST_F(RouterTest, IpIfNonMatchWithoutIpRulesNeverResolves) {
  auto by_domain = rule("proxy");
  by_domain.domain = {"domain:proxied.example"};
  auto router = compile({by_domain}, RoutingStrategy::kIpIfNonMatch);
  bool resolved = true;
  EXPECT_EQ(route(router, to("public.example"), {ip("10.0.0.1")}, &resolved), "default");
  EXPECT_FALSE(resolved);
}

TEST_F(RouterTest, ResolvedIpsReplaceTheOriginalIpAndFailureFallsBack) {
  auto by_ip = rule("direct");
  by_ip.ip = {"10.0.0.0/8"};
  auto router = compile({by_ip}, RoutingStrategy::kIpIfNonMatch);
  // Sniffed domain over an IP target that does not match: the second pass tests the
  // domain's addresses, not the original IP.
  auto in = to("8.8.8.8");
  in.route_domain = "internal.example";
  bool resolved = false;
  EXPECT_EQ(route(router, in, {ip("10.0.0.1")}, &resolved), "direct");
  EXPECT_TRUE(resolved);
  EXPECT_EQ(route(router, in, {ip("8.8.4.4"), ip("2001:db8::1")}), "default");
  // Resolution failed: the original IP is used.
  auto original = to("10.1.1.1");
  original.route_domain = "internal.example";
  EXPECT_EQ(router.second_pass(original, {}).outbound_tag, "direct");
  // Any of several resolved addresses suffices.
  EXPECT_EQ(route(router, to("x.example"), {ip("2001:db8::1"), ip("10.2.2.2")}), "direct");
}

TEST_F(RouterTest, IpOnDemandResolvesWhenAnIpConditionIsReached) {
  auto by_port = rule("proxy");
  by_port.port = ports("25");
  auto by_ip = rule("direct");
  by_ip.ip = {"10.0.0.0/8"};
  by_ip.port = ports("443");
  auto router = compile({by_port, by_ip}, RoutingStrategy::kIpOnDemand);
  bool resolved = false;
  // Rule 0 matches before any IP condition: no resolution.
  EXPECT_EQ(route(router, to("mail.example", 25), {}, &resolved), "proxy");
  EXPECT_FALSE(resolved);
  // Rule 1's port fails before its IP condition: no resolution either.
  EXPECT_EQ(route(router, to("www.example", 80), {}, &resolved), "default");
  EXPECT_FALSE(resolved);
  // Rule 1's IP condition is reached on a domain target: resolve, then decide.
  EXPECT_EQ(route(router, to("internal.example", 443), {ip("10.3.3.3")}, &resolved), "direct");
  EXPECT_TRUE(resolved);
  EXPECT_EQ(route(router, to("public.example", 443), {ip("1.1.1.1")}, &resolved), "default");
  EXPECT_TRUE(resolved);
  // IP targets need no resolution.
  EXPECT_EQ(route(router, to("10.0.0.1", 443), {}, &resolved), "direct");
  EXPECT_FALSE(resolved);
}

TEST_F(RouterTest, GeoDataInRules) {
  assets_.add("geoip.dat", geoip_list({{"PRIVATE", {{"10.0.0.0", 8}, {"fc00::", 7}}}}));
  assets_.add("geosite.dat", geosite_list({{"ADS", {{2, "ads.example", {}}}}}));
  auto block = rule("block");
  block.domain = {"geosite:ads"};
  auto direct = rule("direct");
  direct.ip = {"geoip:private"};
  auto router = compile({block, direct});
  EXPECT_EQ(route(router, to("x.ads.example")), "block");
  EXPECT_EQ(route(router, to("fd12::1")), "direct");
  EXPECT_EQ(route(router, to("8.8.8.8")), "default");
}

TEST_F(RouterTest, CompileErrorsCarryThePath) {
  config::RoutingConfig config;
  auto ok = rule("direct");
  ok.port = ports("53");
  auto bad = rule("proxy");
  bad.domain = {"full:a.example", "regexp:(x"};
  bad.path = "routing.rules[1]";
  config.rules = {ok, bad};
  auto router = Router::compile(config, outbounds_, assets_);
  ASSERT_FALSE(router);
  EXPECT_EQ(router.error().to_string(),
            "routing.rules[1].domain[1]: invalid regular expression: \"regexp:(x\"");

  auto bad_ip = rule("proxy");
  bad_ip.ip = {"geoip:cn"};
  config.rules = {ok, ok, bad_ip};  // no path set: the router names the rule itself
  router = Router::compile(config, outbounds_, assets_);
  ASSERT_FALSE(router);
  EXPECT_EQ(router.error().path, "routing.rules[2].ip[0]");

  auto bad_source = rule("proxy");
  bad_source.source_ip = {"300.1.1.1"};
  config.rules = {bad_source};
  router = Router::compile(config, outbounds_, assets_);
  ASSERT_FALSE(router);
  EXPECT_EQ(router.error().path, "routing.rules[0].sourceIP[0]");

  config.rules = {rule("direct")};
  router = Router::compile(config, outbounds_, assets_);
  ASSERT_FALSE(router);
  EXPECT_EQ(router.error().to_string(), "routing.rules[0]: rule has no condition");

  auto no_target = rule("");
  no_target.port = ports("1");
  config.rules = {no_target};
  EXPECT_FALSE(Router::compile(config, outbounds_, assets_));
}

}  // namespace
}  // namespace xsup::worker::dispatch::router
