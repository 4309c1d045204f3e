#include "shared/config/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace xsup::config {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

LoadResult load(std::string_view text) { return load_text(text, "test.json"); }

std::vector<std::string> strings(const std::vector<Diagnostic>& list) {
  std::vector<std::string> out;
  for (const auto& d : list) out.push_back(d.to_string());
  return out;
}
std::vector<std::string> errors(const LoadResult& r) { return strings(r.errors()); }
std::vector<std::string> warnings(const LoadResult& r) { return strings(r.warnings()); }

// One inbound with the given JSON members, wrapped in a whole config.
LoadResult inbound(std::string_view members) {
  return load(std::string(R"({"inbounds": [{)") + std::string(members) + "}]}");
}
LoadResult outbound(std::string_view members) {
  return load(std::string(R"({"outbounds": [{)") + std::string(members) + "}]}");
}
// A raw socks inbound on port 1080 with the given streamSettings.
LoadResult stream(std::string_view settings) {
  return inbound(std::string(R"("protocol": "socks", "port": 1080, "streamSettings": )") +
                 std::string(settings));
}

TEST(LoaderTest, EmptyConfigLoadsWithDefaults) {
  LoadResult r = load("{}");
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(strings(r.diagnostics), IsEmpty());
  EXPECT_FALSE(r.config.log.present);
  EXPECT_EQ(r.config.xsup.control_socket, "/run/xsup/control.sock");
  EXPECT_EQ(r.config.xsup.drain_timeout, std::chrono::seconds(60));
}

TEST(LoaderTest, ParseErrorNamesFileLineAndColumn) {
  LoadResult r = load_text("{\n  // c\n  \"log\": {},\n}", "my.json");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_EQ(r.errors()[0].path, "my.json");
  EXPECT_EQ(r.errors()[0].message.rfind("line 4, column 1: ", 0), 0u) << r.errors()[0].message;
  EXPECT_THAT(errors(load("[]")),
              ElementsAre("test.json: the configuration must be a JSON object"));
}

TEST(LoaderTest, KeysAreCaseInsensitive) {
  LoadResult r = load(R"({"Inbounds": [{"PROTOCOL": "Socks", "Port": 1080, "TAG": "in",
      "streamSettings": {"SOCKOPT": {"tcpcongestion": "bbr"}}}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  ASSERT_EQ(r.config.inbounds.size(), 1u);
  EXPECT_EQ(r.config.inbounds[0].tag, "in");
  EXPECT_EQ(r.config.inbounds[0].protocol, "socks");
  EXPECT_EQ(r.config.inbounds[0].stream.sockopt.tcp_congestion, "bbr");
  EXPECT_THAT(strings(r.diagnostics), IsEmpty());
}

TEST(LoaderTest, UnknownFieldsAreWarnings) {
  LoadResult r = load(R"({"remarks": "x", "inbounds": [{"protocol": "socks", "port": 1,
      "settings": {"colour": 1}}], "log": {"levle": "x"}})");
  EXPECT_TRUE(r.ok());
  EXPECT_THAT(warnings(r), Contains("remarks: unknown field, ignored"));
  EXPECT_THAT(warnings(r), Contains("inbounds[0].settings.colour: unknown field, ignored"));
  EXPECT_THAT(warnings(r), Contains("log.levle: unknown field, ignored"));
}

TEST(LoaderTest, AllErrorsAreCollected) {
  LoadResult r = load(R"({"inbounds": [{"protocol": "socks", "port": "abc"},
      {"protocol": "socks", "port": 1, "streamSettings": {"sockopt": {"tcpMaxSeg": 99999}}}]})");
  EXPECT_THAT(errors(r), ElementsAre("inbounds[0].port: \"abc\" is not a port number",
                                     "inbounds[1].streamSettings.sockopt.tcpMaxSeg: 99999 is out "
                                     "of range 1..65535"));
}

// ---- sections ----

TEST(LoaderTest, UnsupportedSectionsAreRejectedWhenNonEmpty) {
  EXPECT_THAT(errors(load(R"({"dns": {"servers": ["1.1.1.1"]}})")),
              ElementsAre("dns: not supported yet"));
  EXPECT_THAT(errors(load(R"({"api": {"tag": "api"}, "fakedns": [{}]})")),
              ElementsAre("api: not supported yet", "fakedns: not supported yet"));
  EXPECT_THAT(errors(load(R"({"transport": {"tcpSettings": {}}})")),
              ElementsAre("transport: not supported yet"));
  LoadResult r = load(R"({"stats": {}, "dns": {}, "reverse": {}, "observatory": {},
      "metrics": {}, "geodata": {}, "burstObservatory": {}, "transport": {}, "fakedns": []})");
  EXPECT_TRUE(r.ok()) << errors(r).front();
  EXPECT_THAT(strings(r.diagnostics), IsEmpty());
  EXPECT_THAT(errors(load(R"({"stats": {"x": 1}})")), ElementsAre("stats: not supported yet"));
}

TEST(LoaderTest, Log) {
  LoadResult r = load(R"({"log": {"loglevel": "Debug", "access": "/tmp/a.log", "error": "none",
      "dnsLog": true, "maskAddress": "half"}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.config.log.present);
  EXPECT_EQ(r.config.log.level, log::Level::kDebug);
  EXPECT_EQ(r.config.log.access, "/tmp/a.log");
  EXPECT_EQ(r.config.log.error, "none");
  EXPECT_TRUE(r.config.log.dns_log);
  EXPECT_EQ(r.config.log.mask_address, "half");

  r = load(R"({"log": {"loglevel": "verbose"}})");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.config.log.level, log::Level::kWarning);
  EXPECT_THAT(warnings(r), ElementsAre("log.loglevel: \"verbose\" is not a log level (debug, "
                                       "info, warning, error, none); using \"warning\""));
  EXPECT_THAT(errors(load(R"({"log": {"maskAddress": "most"}})")),
              ElementsAre("log.maskAddress: \"most\" is not a mask (quarter, half, full)"));
}

TEST(LoaderTest, PolicyLevels) {
  LoadResult none = load("{}");
  EXPECT_EQ(none.config.policy.level(1).conn_idle, std::chrono::seconds(600));
  EXPECT_EQ(none.config.policy.level(0).conn_idle, std::chrono::seconds(300));

  LoadResult r = load(R"({"policy": {"levels": {"0": {"handshake": 4, "connIdle": 100,
      "uplinkOnly": 2, "downlinkOnly": 5, "bufferSize": -1, "statsUserUplink": true}},
      "system": {"statsInboundUplink": true, "statsOutboundDownlink": true}}})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  PolicyLevel zero = r.config.policy.level(0);
  EXPECT_EQ(zero.handshake, std::chrono::seconds(4));
  EXPECT_EQ(zero.conn_idle, std::chrono::seconds(100));
  EXPECT_EQ(zero.uplink_only, std::chrono::seconds(2));
  EXPECT_EQ(zero.downlink_only, std::chrono::seconds(5));
  EXPECT_EQ(zero.buffer_size_kib, -1);
  EXPECT_TRUE(zero.stats_user_uplink);
  EXPECT_EQ(r.config.policy.level(1).conn_idle, std::chrono::seconds(300));
  EXPECT_EQ(r.config.policy.level(7).handshake, std::chrono::seconds(60));
  EXPECT_TRUE(r.config.policy.stats_inbound_uplink);
  EXPECT_TRUE(r.config.policy.stats_outbound_downlink);

  EXPECT_THAT(errors(load(R"({"policy": {"levels": {"one": {}, "0": {"connIdle": -5}}}})")),
              ElementsAre("policy.levels.0.connIdle: -5 is out of range 0..4294967295",
                          "policy.levels.one: \"one\" is not a level number"));
}

TEST(LoaderTest, XsupSection) {
  LoadResult r = load(R"({"xsup": {"workers": 4, "user": "xsup", "store": "/var/lib/xsup",
      "controlSocket": "/tmp/c.sock", "web": {"listen": "127.0.0.1:8080"}, "drainTimeout": 5}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.xsup.workers, 4u);
  EXPECT_EQ(r.config.xsup.user, "xsup");
  EXPECT_EQ(r.config.xsup.store, "/var/lib/xsup");
  EXPECT_EQ(r.config.xsup.control_socket, "/tmp/c.sock");
  EXPECT_EQ(r.config.xsup.web_listen, "127.0.0.1:8080");
  EXPECT_EQ(r.config.xsup.drain_timeout, std::chrono::seconds(5));
}

TEST(LoaderTest, VersionAndEnv) {
  EXPECT_TRUE(load(R"({"version": {"min": "1.8.0", "max": "26.1.1"}})").ok());
  EXPECT_THAT(errors(load(R"({"version": {"min": "v1"}})")),
              ElementsAre("version.min: \"v1\" is not a version (x.y.z)"));
  ::unsetenv("XSUP_LOADER_TEST_ENV");
  LoadResult r = load(R"({"env": {"XSUP_LOADER_TEST_ENV": "4321"},
      "inbounds": [{"protocol": "http", "port": "env:XSUP_LOADER_TEST_ENV"}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_EQ(r.config.env.at("XSUP_LOADER_TEST_ENV"), "4321");
  ASSERT_NE(std::getenv("XSUP_LOADER_TEST_ENV"), nullptr);
  EXPECT_STREQ(std::getenv("XSUP_LOADER_TEST_ENV"), "4321");
  EXPECT_TRUE(r.config.inbounds[0].ports.contains(4321));
  EXPECT_THAT(errors(load(R"({"env": {"A": 1}})")), ElementsAre("env.A: 1 is not a string"));
}

// ---- inbounds ----

TEST(LoaderTest, InboundProtocols) {
  EXPECT_THAT(errors(inbound(R"("protocol": "wireguard", "port": 443)")),
              ElementsAre("inbounds[0].protocol: \"wireguard\" not supported yet"));
  EXPECT_THAT(errors(inbound(R"("protocol": "vmesss", "port": 443)")),
              ElementsAre("inbounds[0].protocol: \"vmesss\" is not a known protocol"));
  EXPECT_THAT(errors(inbound(R"("port": 443)")), ElementsAre("inbounds[0].protocol: required"));
  EXPECT_THAT(errors(inbound(R"("protocol": "socks")")), ElementsAre("inbounds[0].port: required"));
  LoadResult r = inbound(R"("protocol": "mixed", "port": "1080,2000-2010")");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.inbounds[0].protocol, "socks");
  EXPECT_EQ(r.config.inbounds[0].path, "inbounds[0]");
  EXPECT_TRUE(r.config.inbounds[0].ports.contains(2005));
  EXPECT_THAT(errors(load(R"({"inbounds": [{"protocol": "socks", "port": 1, "tag": "a"},
      {"protocol": "http", "port": 2, "tag": "a"}]})")),
              ElementsAre("inbounds[1].tag: duplicate tag \"a\""));
}

TEST(LoaderTest, InboundListen) {
  LoadResult r = inbound(R"("protocol": "socks", "port": 1, "listen": "localhost")");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.inbounds[0].listen, "127.0.0.1");
  EXPECT_EQ(inbound(R"("protocol": "socks", "port": 1, "listen": "::1")").config.inbounds[0].listen,
            "::1");
  EXPECT_THAT(errors(inbound(R"("protocol": "socks", "port": 1, "listen": "example.com")")),
              ElementsAre("inbounds[0].listen: \"example.com\" is not an IP address"));
  EXPECT_THAT(errors(inbound(R"("protocol": "socks", "listen": "/run/x.sock")")),
              ElementsAre("inbounds[0].listen: unix domain sockets not supported yet"));
}

TEST(LoaderTest, SocksInbound) {
  LoadResult r = inbound(R"("protocol": "socks", "port": 1080, "settings": {"auth": "password",
      "accounts": [{"user": "u", "pass": "p"}], "udp": true, "ip": "127.0.0.1", "userLevel": 2})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& s = std::get<SocksInbound>(r.config.inbounds[0].settings);
  EXPECT_TRUE(s.auth_password);
  ASSERT_EQ(s.accounts.size(), 1u);
  EXPECT_EQ(s.accounts[0].user, "u");
  EXPECT_EQ(s.accounts[0].pass, "p");
  EXPECT_EQ(s.accounts[0].level, 2u);
  EXPECT_EQ(s.accounts[0].email, "u");
  EXPECT_TRUE(s.udp);
  EXPECT_EQ(s.ip, "127.0.0.1");
  EXPECT_EQ(s.user_level, 2u);

  r = inbound(R"("protocol": "socks", "port": 1, "settings": {"auth": "password",
      "users": [{"user": "a", "pass": "b"}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<SocksInbound>(r.config.inbounds[0].settings).accounts.size(), 1u);
  EXPECT_THAT(errors(inbound(R"("protocol": "socks", "port": 1, "settings": {"auth": "pw"})")),
              ElementsAre("inbounds[0].settings.auth: \"pw\" is not a socks auth method (noauth, "
                          "password)"));
}

TEST(LoaderTest, HttpInbound) {
  LoadResult r = inbound(R"("protocol": "http", "port": 8080, "settings": {"accounts":
      [{"user": "u", "pass": "p"}], "allowTransparent": true, "userLevel": 1, "timeout": 30})");
  ASSERT_TRUE(r.ok());
  const auto& h = std::get<HttpInbound>(r.config.inbounds[0].settings);
  EXPECT_EQ(h.accounts.size(), 1u);
  EXPECT_TRUE(h.allow_transparent);
  EXPECT_EQ(h.user_level, 1u);
  EXPECT_THAT(warnings(r), ElementsAre("inbounds[0].settings.timeout: deprecated, use policy "
                                       "levels (connIdle); ignored"));
}

TEST(LoaderTest, DokodemoAndTunnelInbounds) {
  LoadResult r = inbound(R"("protocol": "dokodemo-door", "port": 53, "settings": {"address":
      "8.8.8.8", "port": 53, "network": "tcp,udp", "userLevel": 3})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  auto d = std::get<DokodemoInbound>(r.config.inbounds[0].settings);
  EXPECT_EQ(r.config.inbounds[0].protocol, "dokodemo-door");
  EXPECT_EQ(d.address.to_string(), "8.8.8.8");
  EXPECT_EQ(d.port, 53);
  EXPECT_TRUE(d.tcp);
  EXPECT_TRUE(d.udp);
  EXPECT_EQ(d.user_level, 3u);

  r = inbound(R"("protocol": "tunnel", "port": 12345, "settings": {"rewriteAddress":
      "example.com", "rewritePort": 443, "allowedNetwork": ["udp"], "followRedirect": true})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  d = std::get<DokodemoInbound>(r.config.inbounds[0].settings);
  EXPECT_EQ(d.address.to_string(), "example.com");
  EXPECT_EQ(d.port, 443);
  EXPECT_FALSE(d.tcp);
  EXPECT_TRUE(d.udp);
  EXPECT_TRUE(d.follow_redirect);
  // followRedirect without an explicit tproxy mode means "redirect".
  EXPECT_EQ(r.config.inbounds[0].stream.sockopt.tproxy, Tproxy::kRedirect);

  r = inbound(R"("protocol": "tunnel", "port": 1, "settings": {"followRedirect": true},
      "streamSettings": {"sockopt": {"tproxy": "tproxy"}})");
  EXPECT_EQ(r.config.inbounds[0].stream.sockopt.tproxy, Tproxy::kTproxy);

  EXPECT_THAT(errors(inbound(R"("protocol": "tunnel", "port": 1, "settings": {"portMap":
      {"5555": "1.1.1.1:7777"}})")),
              ElementsAre("inbounds[0].settings.portMap: not supported yet"));
  EXPECT_THAT(errors(inbound(R"("protocol": "dokodemo-door", "port": 1, "settings":
      {"network": "sctp"})")),
              ElementsAre("inbounds[0].settings.network: \"sctp\" is not a network (tcp, udp)"));
}

TEST(LoaderTest, Sniffing) {
  LoadResult r = inbound(R"("protocol": "socks", "port": 1, "sniffing": {"enabled": true,
      "destOverride": ["http", "https", "ssl", "tls"], "domainsExcluded": ["courier.push.apple.com"],
      "ipsExcluded": ["10.0.0.0/8", "geoip:private"], "metadataOnly": false, "routeOnly": true})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& s = r.config.inbounds[0].sniffing;
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.dest_override, (std::vector<std::string>{"http", "tls"}));
  EXPECT_EQ(s.domains_excluded.size(), 1u);
  EXPECT_EQ(s.ips_excluded.size(), 2u);
  EXPECT_TRUE(s.route_only);

  EXPECT_THAT(errors(inbound(R"("protocol": "socks", "port": 1, "sniffing": {"destOverride":
      ["quic", "fakedns+others", "ftp"], "ipsExcluded": ["10.0.0.0/33"]})")),
              ElementsAre("inbounds[0].sniffing.destOverride[0]: \"quic\" not supported yet",
                          "inbounds[0].sniffing.destOverride[1]: \"fakedns+others\" not supported "
                          "yet",
                          "inbounds[0].sniffing.destOverride[2]: \"ftp\" is not a sniffer (http, "
                          "tls, quic, fakedns)",
                          "inbounds[0].sniffing.ipsExcluded[0]: \"10.0.0.0/33\" is not an IP "
                          "address or CIDR"));
}

TEST(LoaderTest, Allocate) {
  EXPECT_TRUE(
      inbound(R"("protocol": "socks", "port": 1, "allocate": {"strategy": "always"})").ok());
  EXPECT_THAT(errors(inbound(R"("protocol": "socks", "port": 1, "allocate": {"strategy":
      "random", "refresh": 5, "concurrency": 3})")),
              ElementsAre("inbounds[0].allocate.strategy: \"random\" not supported yet"));
}

// ---- streamSettings ----

TEST(LoaderTest, StreamNetworks) {
  EXPECT_TRUE(stream(R"({"network": "tcp"})").ok());
  EXPECT_TRUE(stream(R"({"network": "raw", "rawSettings": {"header": {"type": "none"}}})").ok());
  EXPECT_THAT(errors(stream(R"({"network": "ws", "wsSettings": {"path": "/"}})")),
              ElementsAre("inbounds[0].streamSettings.network: \"ws\" not supported yet"));
  EXPECT_THAT(errors(stream(R"({"network": "splithttp"})")),
              ElementsAre("inbounds[0].streamSettings.network: \"splithttp\" not supported yet"));
  EXPECT_THAT(errors(stream(R"({"network": "h2"})")),
              ElementsAre("inbounds[0].streamSettings.network: \"h2\" removed from Xray, use "
                          "xhttp"));
  EXPECT_THAT(errors(stream(R"({"network": "quic"})")),
              ElementsAre("inbounds[0].streamSettings.network: \"quic\" removed from Xray, use "
                          "xhttp"));
  EXPECT_THAT(errors(stream(R"({"network": "domainsocket"})")),
              ElementsAre("inbounds[0].streamSettings.network: \"domainsocket\" is not a known "
                          "network"));
  LoadResult r = stream(R"({"network": "tcp", "wsSettings": {"path": "/"}})");
  EXPECT_TRUE(r.ok());
  EXPECT_THAT(warnings(r),
              ElementsAre("inbounds[0].streamSettings.wsSettings: ignored: network is \"raw\""));
  EXPECT_THAT(errors(stream(R"({"kcpSettings": 5})")),
              ElementsAre("inbounds[0].streamSettings.kcpSettings: 5 is not an object"));
}

TEST(LoaderTest, RawHeaderAndProxyProtocol) {
  EXPECT_THAT(errors(stream(R"({"tcpSettings": {"header": {"type": "http", "request":
      {"path": ["/"], "headers": {"Host": ["a.com", "b.com"], "X": "y"}}, "response":
      {"status": "200"}}}})")),
              ElementsAre("inbounds[0].streamSettings.tcpSettings.header.type: \"http\" not "
                          "supported yet"));
  EXPECT_THAT(errors(stream(R"({"rawSettings": {"header": {"type": "none", "request":
      {"path": 5}}}})")),
              ElementsAre("inbounds[0].streamSettings.rawSettings.header.request.path: 5 is not a "
                          "list of strings"));
  EXPECT_THAT(errors(stream(R"({"rawSettings": {"acceptProxyProtocol": true}})")),
              ElementsAre("inbounds[0].streamSettings.rawSettings.acceptProxyProtocol: not "
                          "supported yet"));
  EXPECT_TRUE(stream(R"({"rawSettings": {"acceptProxyProtocol": false}})").ok());
}

TEST(LoaderTest, SecurityIsTypeChecked) {
  // tls itself is tested in tls_test.cc.
  EXPECT_THAT(errors(stream(R"({"security": "tls", "tlsSettings": {"allowInsecure": "yes",
      "certificates": [{"usage": "sign"}]}})")),
              ElementsAre("inbounds[0].streamSettings.tlsSettings.allowInsecure: \"yes\" is not a "
                          "boolean",
                          "inbounds[0].streamSettings.tlsSettings.certificates[0].usage: \"sign\" "
                          "is not a certificate usage (encipherment, verify, issue)"));
  EXPECT_THAT(errors(stream(R"({"security": "reality", "realitySettings": {"dest": "a:443",
      "serverNames": ["a"], "privateKey": "k", "shortIds": ["", "0123", "xyz"]}})")),
              ElementsAre("inbounds[0].streamSettings.security: \"reality\" not supported yet",
                          "inbounds[0].streamSettings.realitySettings.shortIds[2]: \"xyz\" is not "
                          "a short id (even number of hex digits, at most 16)"));
  EXPECT_THAT(errors(stream(R"({"security": "xtls"})")),
              ElementsAre("inbounds[0].streamSettings.security: \"xtls\" removed from Xray, use "
                          "tls or reality"));
  LoadResult r = stream(R"({"security": "none", "tlsSettings": {}})");
  EXPECT_TRUE(r.ok());
  EXPECT_THAT(warnings(r), ElementsAre("inbounds[0].streamSettings.tlsSettings: ignored: "
                                       "security is not \"tls\""));
  EXPECT_TRUE(stream(R"({"security": ""})").ok());
}

TEST(LoaderTest, SupportedSockopt) {
  LoadResult r = stream(R"({"sockopt": {"mark": 255, "tcpFastOpen": true, "tproxy": "TProxy",
      "domainStrategy": "forceipv6v4", "tcpKeepAliveIdle": 30, "tcpKeepAliveInterval": 10,
      "tcpUserTimeout": 10000, "tcpCongestion": "bbr", "tcpWindowClamp": 600, "tcpMaxSeg": 1440,
      "interface": "eth0", "v6only": true, "tcpMptcp": true, "customSockopt": [
        {"system": "linux", "network": "tcp", "level": "6", "opt": "1", "value": "1", "type": "int"},
        {"opt": "13", "value": "bbr", "type": "str"},
        {"system": "windows", "opt": "1", "value": "1", "type": "int"}]}})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const SockoptConfig& s = r.config.inbounds[0].stream.sockopt;
  EXPECT_EQ(s.mark, 255u);
  EXPECT_EQ(s.tcp_fast_open, 256);
  EXPECT_EQ(s.tproxy, Tproxy::kTproxy);
  EXPECT_EQ(s.domain_strategy, DomainStrategy::kForceIpv6v4);
  EXPECT_EQ(s.tcp_keep_alive_idle, 30);
  EXPECT_EQ(s.tcp_keep_alive_interval, 10);
  EXPECT_EQ(s.tcp_user_timeout_ms, 10000);
  EXPECT_EQ(s.tcp_congestion, "bbr");
  EXPECT_EQ(s.tcp_window_clamp, 600);
  EXPECT_EQ(s.tcp_max_seg, 1440);
  EXPECT_EQ(s.interface, "eth0");
  EXPECT_TRUE(s.v6only);
  EXPECT_TRUE(s.tcp_mptcp);
  ASSERT_EQ(s.custom.size(), 2u);
  EXPECT_EQ(s.custom[0].network, "tcp");
  EXPECT_EQ(s.custom[0].level, 6);
  EXPECT_EQ(s.custom[0].opt, 1);
  EXPECT_EQ(s.custom[0].int_value, 1);
  EXPECT_TRUE(s.custom[1].is_string);
  EXPECT_EQ(s.custom[1].string_value, "bbr");
  EXPECT_EQ(s.custom[1].level, 6);

  EXPECT_EQ(stream(R"({"sockopt": {"tcpFastOpen": false}})")
                .config.inbounds[0]
                .stream.sockopt.tcp_fast_open,
            -1);
  EXPECT_EQ(
      stream(R"({"sockopt": {"tcpFastOpen": 0}})").config.inbounds[0].stream.sockopt.tcp_fast_open,
      std::nullopt);
  EXPECT_EQ(stream(R"({"sockopt": {"tcpFastOpen": 100}})")
                .config.inbounds[0]
                .stream.sockopt.tcp_fast_open,
            100);
}

TEST(LoaderTest, SockoptErrors) {
  const std::string p = "inbounds[0].streamSettings.sockopt.";
  EXPECT_THAT(errors(stream(R"({"sockopt": {"tcpKeepAliveIdle": -1, "tcpKeepAliveInterval": 5}})")),
              ElementsAre(p + "tcpKeepAliveInterval: tcpKeepAliveIdle and tcpKeepAliveInterval "
                              "must have the same sign"));
  EXPECT_THAT(errors(stream(R"({"sockopt": {"tproxy": "on", "domainStrategy": "UseDNS",
      "tcpFastOpen": "yes", "mark": -1}})")),
              ElementsAre(p + "mark: -1 is out of range 0..4294967295",
                          p + "tcpFastOpen: \"yes\" is not a boolean or number",
                          p + "tproxy: \"on\" is not a tproxy mode (off, redirect, tproxy)",
                          p + "domainStrategy: \"UseDNS\" is not a domain strategy (AsIs, "
                              "UseIP[v4|v6|v4v6|v6v4], ForceIP[v4|v6|v4v6|v6v4])"));
  EXPECT_THAT(errors(stream(R"({"sockopt": {"customSockopt": [{"opt": "x", "type": "int",
      "value": "1"}, {"opt": "1", "type": "bool"}, {"opt": "1", "type": "int", "value": "z"},
      {"type": "str"}]}})")),
              ElementsAre(p + "customSockopt[0].opt: \"x\" is not a decimal number",
                          p + "customSockopt[1].type: \"bool\" is not a sockopt type (int, str)",
                          p + "customSockopt[2].value: \"z\" is not a decimal number",
                          p + "customSockopt[3].opt: required"));
}

TEST(LoaderTest, SockoptNotSupportedYet) {
  const std::string p = "inbounds[0].streamSettings.sockopt.";
  EXPECT_THAT(
      errors(stream(R"({"sockopt": {"dialerProxy": "x", "acceptProxyProtocol": true,
      "happyEyeballs": {"tryDelayMs": 250}, "addressPortStrategy": "SrvPortOnly",
      "trustedXForwardedFor": ["CF-Connecting-IP"], "penetrate": true}})")),
      ElementsAre(
          p + "dialerProxy: not supported yet", p + "acceptProxyProtocol: not supported yet",
          p + "happyEyeballs: not supported yet", p + "addressPortStrategy: not supported yet",
          p + "trustedXForwardedFor: not supported yet", p + "penetrate: not supported yet"));
  EXPECT_TRUE(stream(R"({"sockopt": {"dialerProxy": "", "acceptProxyProtocol": false,
      "addressPortStrategy": "none", "penetrate": false, "happyEyeballs": {}}})")
                  .ok());
  LoadResult r = stream(R"({"sockopt": {"tcpNoDelay": true}})");
  EXPECT_TRUE(r.ok());
  EXPECT_THAT(warnings(r), ElementsAre(p + "tcpNoDelay: removed from Xray (TCP_NODELAY is always "
                                           "on; use customSockopt), ignored"));
}

// ---- outbounds ----

TEST(LoaderTest, FreedomOutbound) {
  LoadResult r = outbound(R"("protocol": "direct", "tag": "d", "settings": {"domainStrategy":
      "UseIPv4", "redirect": "127.0.0.1:53", "userLevel": 1})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_EQ(r.config.outbounds[0].protocol, "freedom");
  auto f = std::get<FreedomOutbound>(r.config.outbounds[0].settings);
  EXPECT_EQ(f.domain_strategy, DomainStrategy::kUseIpv4);
  ASSERT_TRUE(f.redirect);
  EXPECT_EQ(f.redirect->host_port(), "127.0.0.1:53");
  EXPECT_EQ(f.user_level, 1u);

  f = std::get<FreedomOutbound>(
      outbound(R"("protocol": "freedom", "settings": {"redirect": ":8080"})")
          .config.outbounds[0]
          .settings);
  ASSERT_TRUE(f.redirect);
  EXPECT_TRUE(f.redirect->address.empty());
  EXPECT_EQ(f.redirect->port, 8080);
  f = std::get<FreedomOutbound>(
      outbound(R"("protocol": "freedom", "settings": {"redirect": "example.com"})")
          .config.outbounds[0]
          .settings);
  ASSERT_TRUE(f.redirect);
  EXPECT_EQ(f.redirect->address.to_string(), "example.com");
  EXPECT_EQ(f.redirect->port, 0);

  EXPECT_THAT(errors(outbound(R"("protocol": "freedom", "settings": {"fragment": {"packets":
      "tlshello"}, "noises": [{}], "proxyProtocol": 2, "finalRules": [{}]})")),
              ElementsAre("outbounds[0].settings.fragment: not supported yet",
                          "outbounds[0].settings.noises: not supported yet",
                          "outbounds[0].settings.finalRules: not supported yet",
                          "outbounds[0].settings.proxyProtocol: not supported yet"));
}

TEST(LoaderTest, BlackholeOutbound) {
  LoadResult r = outbound(R"("protocol": "block", "settings": {"response": {"type": "http"}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.outbounds[0].protocol, "blackhole");
  EXPECT_TRUE(std::get<BlackholeOutbound>(r.config.outbounds[0].settings).http_response);
  EXPECT_THAT(errors(outbound(R"("protocol": "blackhole", "settings": {"response":
      {"type": "html"}})")),
              ElementsAre("outbounds[0].settings.response.type: \"html\" is not a response type "
                          "(none, http)"));
}

TEST(LoaderTest, SocksAndHttpOutbounds) {
  LoadResult r = outbound(R"("protocol": "socks", "settings": {"servers": [{"address":
      "127.0.0.1", "port": 1080, "users": [{"user": "u", "pass": "p", "level": 2}]}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& s = std::get<SocksOutbound>(r.config.outbounds[0].settings);
  ASSERT_EQ(s.servers.size(), 1u);
  EXPECT_EQ(s.servers[0].address.host_port(), "127.0.0.1:1080");
  ASSERT_EQ(s.servers[0].users.size(), 1u);
  EXPECT_EQ(s.servers[0].users[0].level, 2u);

  r = outbound(R"("protocol": "http", "settings": {"address": "proxy.example", "port": "3128",
      "user": "u", "pass": "p", "headers": {"X-A": "1"}})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& h = std::get<HttpOutbound>(r.config.outbounds[0].settings);
  ASSERT_EQ(h.servers.size(), 1u);
  EXPECT_EQ(h.servers[0].address.host_port(), "proxy.example:3128");
  EXPECT_EQ(h.servers[0].users.at(0).user, "u");
  EXPECT_EQ(h.headers, (std::vector<std::pair<std::string, std::string>>{{"X-A", "1"}}));

  EXPECT_THAT(errors(outbound(R"("protocol": "socks", "settings": {"servers": [{"port": 0}]})")),
              Contains("outbounds[0].settings.servers[0].address: required"));
  EXPECT_THAT(errors(outbound(R"("protocol": "socks", "settings": {"servers": [{"port": 0}]})")),
              Contains("outbounds[0].settings.servers[0].port: 0 is out of range 1..65535"));
}

TEST(LoaderTest, ProxyOutboundsNeedAServer) {
  EXPECT_THAT(errors(outbound(R"("protocol": "socks", "settings": {"servers": []})")),
              ElementsAre("outbounds[0].settings.servers: at least one server is required"));
  EXPECT_THAT(errors(outbound(R"("protocol": "http")")),
              ElementsAre("outbounds[0].settings.address: required",
                          "outbounds[0].settings.port: required"));
  LoadResult r = outbound(R"("protocol": "socks", "settings": {"address": "::1", "port": 1080})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& s = std::get<SocksOutbound>(r.config.outbounds[0].settings);
  EXPECT_EQ(s.servers.at(0).address.host_port(), "[::1]:1080");
  EXPECT_TRUE(s.servers.at(0).users.empty());
}

TEST(LoaderTest, NullCountsAsAbsent) {
  LoadResult r = load(R"({"log": null, "policy": null, "inbounds": [{"protocol": "http",
      "port": 80, "settings": null, "streamSettings": null, "sniffing": null, "tag": null}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_THAT(strings(r.diagnostics), IsEmpty());
  EXPECT_FALSE(r.config.log.present);
  EXPECT_FALSE(r.config.policy.present);
  EXPECT_EQ(r.config.inbounds.at(0).tag, "");
}

TEST(LoaderTest, CommaStringLists) {
  LoadResult r = inbound(R"("protocol": "http", "port": 80, "sniffing": {"enabled": true,
      "destOverride": "http,tls"})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_EQ(r.config.inbounds[0].sniffing.dest_override, (std::vector<std::string>{"http", "tls"}));
  r = load(R"({"outbounds": [{"protocol": "freedom", "tag": "d"}], "routing": {"rules": [
      {"inboundTag": "a,b", "ip": "10.0.0.0/8,::/0", "outboundTag": "d"}]}})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_EQ(r.config.routing.rules[0].inbound_tag, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.config.routing.rules[0].ip.size(), 2u);
}

TEST(LoaderTest, OutboundCommonFields) {
  EXPECT_THAT(errors(outbound(R"("protocol": "wireguard")")),
              ElementsAre("outbounds[0].protocol: \"wireguard\" not supported yet"));
  EXPECT_THAT(errors(load(R"({"outbounds": [{"protocol": "freedom", "tag": "x"},
      {"protocol": "blackhole", "tag": "x"}]})")),
              ElementsAre("outbounds[1].tag: duplicate tag \"x\""));
  LoadResult r = outbound(R"("protocol": "freedom", "sendThrough": "192.0.2.1",
      "mux": {"enabled": false, "concurrency": 8}, "proxySettings": {"tag": ""},
      "targetStrategy": "AsIs")");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_EQ(r.config.outbounds[0].send_through, "192.0.2.1");
  EXPECT_THAT(errors(outbound(R"("protocol": "freedom", "sendThrough": "origin",
      "mux": {"enabled": true}, "proxySettings": {"tag": "other"}, "targetStrategy": "UseIP")")),
              ElementsAre("outbounds[0].sendThrough: \"origin\" not supported yet",
                          "outbounds[0].proxySettings.tag: not supported yet",
                          "outbounds[0].mux.enabled: mux on a freedom outbound not supported yet",
                          "outbounds[0].targetStrategy: \"UseIP\" not supported yet"));
  LoadResult muxed = outbound(R"("protocol": "trojan", "settings": {"servers": [{"address":
      "192.0.2.1", "port": 443, "password": "p"}]}, "mux": {"enabled": true, "concurrency": 0,
      "xudpConcurrency": 16, "xudpProxyUDP443": "skip"})");
  ASSERT_TRUE(muxed.ok()) << errors(muxed).front();
  EXPECT_TRUE(muxed.config.outbounds[0].mux.enabled);
  EXPECT_EQ(muxed.config.outbounds[0].mux.concurrency, 8);  // 0 means Xray's default
  EXPECT_EQ(muxed.config.outbounds[0].mux.xudp_concurrency, 16);
  EXPECT_EQ(muxed.config.outbounds[0].mux.udp443, MuxConfig::Udp443::kSkip);
  EXPECT_THAT(errors(outbound(R"("protocol": "trojan", "settings": {"servers": [{"address":
      "192.0.2.1", "port": 443, "password": "p"}]},
      "mux": {"enabled": true, "concurrency": -2, "xudpProxyUDP443": "drop"})")),
              ElementsAre("outbounds[0].mux.concurrency: -2 is out of range -1..1024",
                          "outbounds[0].mux.xudpProxyUDP443: \"drop\" is not one of reject, "
                          "allow, skip"));
  EXPECT_THAT(errors(outbound(R"("protocol": "freedom", "sendThrough": "10.0.0.0/24")")),
              ElementsAre("outbounds[0].sendThrough: \"10.0.0.0/24\" not supported yet"));
  EXPECT_THAT(errors(outbound(R"("protocol": "freedom", "sendThrough": "eth0")")),
              ElementsAre("outbounds[0].sendThrough: \"eth0\" is not an IP address"));
}

// ---- routing ----

TEST(LoaderTest, RoutingRules) {
  LoadResult r = load(R"({"outbounds": [{"protocol": "freedom", "tag": "direct"},
      {"protocol": "blackhole", "tag": "block"}],
    "routing": {"domainStrategy": "IPIfNonMatch", "rules": [
      {"type": "field", "inboundTag": ["in"], "network": "tcp,udp", "protocol": ["http", "tls"],
       "port": "53,443,1000-2000", "sourcePort": 1234, "localPort": "80", "user": ["a@b"],
       "domain": ["full:a.com", "domain:b.com", "regexp:^c\\.", "geosite:cn", "ext:f.dat:x", "kw"],
       "ip": ["10.0.0.0/8", "!192.168.0.0/16", "geoip:private", "ext:g.dat:x", "::1"],
       "source": ["1.2.3.4"], "sourceIP": ["5.6.7.8"], "localIP": ["127.0.0.1"],
       "outboundTag": "block"},
      {"domains": "x.com", "outboundTag": "direct"}]}})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_THAT(strings(r.diagnostics), IsEmpty());
  EXPECT_EQ(r.config.routing.domain_strategy, RoutingStrategy::kIpIfNonMatch);
  ASSERT_EQ(r.config.routing.rules.size(), 2u);
  const RoutingRule& rule = r.config.routing.rules[0];
  EXPECT_EQ(rule.path, "routing.rules[0]");
  EXPECT_EQ(rule.outbound_tag, "block");
  EXPECT_EQ(rule.inbound_tag, (std::vector<std::string>{"in"}));
  ASSERT_TRUE(rule.network);
  EXPECT_EQ(rule.network->size(), 2u);
  EXPECT_EQ(rule.protocol.size(), 2u);
  ASSERT_TRUE(rule.port);
  EXPECT_TRUE(rule.port->contains(1500));
  EXPECT_TRUE(rule.source_port->contains(1234));
  EXPECT_TRUE(rule.local_port->contains(80));
  EXPECT_EQ(rule.user, (std::vector<std::string>{"a@b"}));
  EXPECT_EQ(rule.domain.size(), 6u);
  EXPECT_EQ(rule.ip.size(), 5u);
  EXPECT_EQ(rule.source_ip, (std::vector<std::string>{"1.2.3.4", "5.6.7.8"}));
  EXPECT_EQ(rule.local_ip, (std::vector<std::string>{"127.0.0.1"}));
  EXPECT_EQ(r.config.routing.rules[1].domain, (std::vector<std::string>{"x.com"}));
}

TEST(LoaderTest, RoutingRuleErrors) {
  auto rules = [](std::string_view list) {
    return load(std::string(R"({"outbounds": [{"protocol": "freedom", "tag": "d"}],
        "routing": {"rules": )") +
                std::string(list) + "}}");
  };
  EXPECT_THAT(errors(rules(R"([{"port": 53}])")),
              ElementsAre("routing.rules[0]: needs outboundTag or balancerTag"));
  EXPECT_THAT(errors(rules(R"([{"outboundTag": "d"}])")),
              ElementsAre("routing.rules[0]: needs at least one condition"));
  EXPECT_THAT(errors(rules(R"([{"outboundTag": "d", "port": "x", "network": "icmp",
      "ip": ["1.2.3.4", "300.1.1.1"], "domain": ["regexp:(a"]}])")),
              ElementsAre("routing.rules[0].network: \"icmp\" is not a network (tcp, udp)",
                          "routing.rules[0].port: \"x\" is not a port number",
                          "routing.rules[0].domain[0]: \"regexp:(a\" is not a valid regular "
                          "expression: " +
                              errors(rules(R"([{"outboundTag": "d", "domain": ["regexp:(a"]}])"))
                                  .front()
                                  .substr(std::string("routing.rules[0].domain[0]: \"regexp:(a\" "
                                                      "is not a valid regular expression: ")
                                              .size()),
                          "routing.rules[0].ip[1]: \"300.1.1.1\" is not an IP address or CIDR"));
  EXPECT_THAT(errors(rules(R"([{"balancerTag": "b", "port": 1}])")),
              ElementsAre("routing.rules[0].balancerTag: not supported yet"));
  EXPECT_THAT(errors(rules(R"([{"outboundTag": "d", "attrs": {":method": "GET"},
      "process": ["curl"], "vlessRoute": "1", "localOS": "linux"}])")),
              ElementsAre("routing.rules[0].attrs: not supported yet",
                          "routing.rules[0].vlessRoute: not supported yet",
                          "routing.rules[0].process: not supported yet",
                          "routing.rules[0].localOS: not supported yet"));
  EXPECT_THAT(errors(load(R"({"routing": {"balancers": [{"tag": "b"}]}})")),
              ElementsAre("routing.balancers: not supported yet"));
  EXPECT_THAT(errors(rules(R"([{"outboundTag": "d", "port": 1, "domainMatcher": "mph"}])")),
              ElementsAre("routing.rules[0].domainMatcher: \"mph\" not supported yet"));

  LoadResult r = rules(R"([{"outboundTag": "nowhere", "port": 1}])");
  EXPECT_TRUE(r.ok());
  EXPECT_THAT(warnings(r), ElementsAre("routing.rules[0].outboundTag: no outbound is tagged "
                                       "\"nowhere\"; matching connections will be closed"));
  // An outbound that exists but is rejected is not "nowhere".
  r = load(R"({"outbounds": [{"protocol": "wireguard", "tag": "proxy"}],
      "routing": {"rules": [{"outboundTag": "proxy", "port": 1}]}})");
  EXPECT_THAT(warnings(r), IsEmpty());
}

}  // namespace
}  // namespace xsup::config

namespace xsup::config {
namespace {

// Every section and sub-object given the wrong JSON type: errors with paths, no throw.
TEST(LoaderTest, WrongShapesAreErrorsNotExceptions) {
  const char* documents[] = {
      R"({"inbounds": {}, "outbounds": 5, "routing": [], "log": "x", "policy": {"levels": []}})",
      R"({"inbounds": [5, null, "x", {"protocol": 1, "port": true, "listen": 4}]})",
      R"({"inbounds": [{"protocol": "socks", "port": 1, "settings": [], "streamSettings": "tcp",
          "sniffing": 1, "allocate": []}]})",
      R"({"inbounds": [{"protocol": "dokodemo-door", "port": 1, "settings": {"address": 1,
          "port": "x", "network": 5, "followRedirect": "yes"}}]})",
      R"({"inbounds": [{"protocol": "socks", "port": 1, "streamSettings": {"network": 1,
          "security": [], "sockopt": [], "tlsSettings": 1, "realitySettings": "x",
          "rawSettings": {"header": []}}}]})",
      R"({"inbounds": [{"protocol": "socks", "port": 1, "streamSettings": {"sockopt":
          {"customSockopt": {}, "happyEyeballs": 1, "trustedXForwardedFor": 1,
          "tcpKeepAliveIdle": "1"}}}]})",
      R"({"outbounds": [{"protocol": "socks", "settings": {"servers": {}}},
          {"protocol": "http", "settings": {"servers": [1], "headers": []}},
          {"protocol": "freedom", "settings": {"redirect": 5}, "mux": 1, "proxySettings": []}]})",
      R"({"routing": {"rules": {}, "domainStrategy": 1}})",
      R"({"routing": {"rules": [1, {"outboundTag": 1, "ip": {}, "domain": 1, "port": []}]}})",
      R"({"xsup": [], "version": 1, "env": [], "stats": 1, "dns": "x"})",
      R"({"policy": {"levels": {"0": 1, "99999999999": {}}, "system": 1}})",
  };
  for (const char* text : documents) {
    LoadResult r;
    ASSERT_NO_THROW(r = load(text)) << text;
    EXPECT_FALSE(r.ok()) << text;
    for (const auto& d : r.errors()) {
      EXPECT_FALSE(d.path.empty()) << text << ": " << d.message;
      EXPECT_EQ(d.message.find("internal error"), std::string::npos) << text << ": " << d.message;
    }
  }
}

}  // namespace
}  // namespace xsup::config
