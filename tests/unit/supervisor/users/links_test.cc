#include "supervisor/users/links.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace xsup::supervisor::users {
namespace {

using nlohmann::json;

constexpr char kUuid[] = "b831381d-6324-4d53-ad4f-8cda48b30811";

LinkUser make_user(std::string email, std::string uuid = kUuid, std::string password = {},
                   std::string flow = {}) {
  return LinkUser{std::move(email), std::move(uuid), std::move(password), std::move(flow)};
}

std::string link_or_error(const json& inbound, const LinkUser& user,
                          const std::string& host = "example.com") {
  base::Expected<std::string> link = share_link(inbound, user, host);
  if (!link) return "error: " + link.error().message();
  return *link;
}

// Decoded with OpenSSL's base64 (standard alphabet, padded), not the code under test.
std::optional<std::string> decode_base64(std::string text, bool url) {
  if (url) {
    EXPECT_EQ(text.find('='), std::string::npos) << "SIP002 base64url has no padding";
    EXPECT_EQ(text.find_first_of("+/"), std::string::npos) << "not the URL alphabet";
    std::replace(text.begin(), text.end(), '-', '+');
    std::replace(text.begin(), text.end(), '_', '/');
    text.append((4 - text.size() % 4) % 4, '=');
  }
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  const std::size_t pad = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

json decode_vmess(const std::string& link) {
  const std::string prefix = "vmess://";
  EXPECT_EQ(link.substr(0, prefix.size()), prefix);
  const std::optional<std::string> text = decode_base64(link.substr(prefix.size()), false);
  EXPECT_TRUE(text.has_value()) << link;
  return text ? json::parse(*text) : json();
}

// --- VLESS ---------------------------------------------------------------------------------

TEST(ShareLink, VlessPlainTcp) {
  const json inbound = json::parse(R"({"protocol": "vless", "port": 443,
      "settings": {"clients": [], "decryption": "none"}})");
  EXPECT_EQ(link_or_error(inbound, make_user("alice@example.com")),
            "vless://b831381d-6324-4d53-ad4f-8cda48b30811@example.com:443"
            "?encryption=none&type=tcp&security=none#alice%40example.com");
}

TEST(ShareLink, VlessTlsWebSocket) {
  const json inbound = json::parse(R"({"protocol": "vless", "port": 8443,
      "settings": {"clients": [], "decryption": "none"},
      "streamSettings": {"network": "ws", "security": "tls",
        "wsSettings": {"path": "/ws?ed=2048", "headers": {"Host": "cdn.example.com"}},
        "tlsSettings": {"serverName": "example.com", "alpn": ["h2", "http/1.1"],
                        "fingerprint": "firefox", "certificates": []}}})");
  EXPECT_EQ(link_or_error(inbound, make_user("a")),
            "vless://b831381d-6324-4d53-ad4f-8cda48b30811@example.com:8443?encryption=none"
            "&type=ws&host=cdn.example.com&path=%2Fws%3Fed%3D2048&security=tls"
            "&sni=example.com&alpn=h2%2Chttp%2F1.1&fp=firefox#a");
}

TEST(ShareLink, VlessRealityVisionDerivesThePublicKey) {
  // Key pair from `xray x25519` (the VLESS-gRPC-REALITY example pairs these two).
  const json inbound = json::parse(R"({"protocol": "vless", "port": 443,
      "settings": {"clients": [], "decryption": "none"},
      "streamSettings": {"network": "raw", "security": "reality",
        "realitySettings": {"target": "www.example.org:443",
          "serverNames": ["www.example.org", "example.org"],
          "privateKey": "kOsBHSgxhAfCeQIQyJvupiXTmQrMmsqi6y6Wc5OQZXc",
          "shortIds": ["6ba85179e30d4fc2", ""]}}})");
  EXPECT_EQ(link_or_error(inbound, make_user("v", kUuid, "", "xtls-rprx-vision")),
            "vless://b831381d-6324-4d53-ad4f-8cda48b30811@example.com:443?encryption=none"
            "&type=tcp&security=reality&sni=www.example.org&fp=chrome"
            "&pbk=OBR2JYROQB8odK5glVW_KLnsWl3UZ-voyGq_9ihQgTI&sid=6ba85179e30d4fc2"
            "&flow=xtls-rprx-vision#v");
}

TEST(ShareLink, VlessRealityWithABadPrivateKeyIsAnError) {
  const json inbound = json::parse(R"({"protocol": "vless", "port": 443,
      "streamSettings": {"security": "reality",
        "realitySettings": {"serverNames": ["a.org"], "privateKey": "not a key"}}})");
  const base::Expected<std::string> link = share_link(inbound, make_user("v"), "example.com");
  ASSERT_FALSE(link);
  EXPECT_TRUE(link.error().is(base::Errc::kProtocol));
}

TEST(ShareLink, VlessGrpcMultiMode) {
  const json inbound = json::parse(R"({"protocol": "vless", "port": 2053,
      "streamSettings": {"network": "grpc", "security": "tls",
        "grpcSettings": {"serviceName": "svc name", "multiMode": true,
                         "authority": "grpc.example.com"},
        "tlsSettings": {"serverName": "grpc.example.com"}}})");
  EXPECT_EQ(link_or_error(inbound, make_user("g")),
            "vless://b831381d-6324-4d53-ad4f-8cda48b30811@example.com:2053?encryption=none"
            "&type=grpc&serviceName=svc%20name&authority=grpc.example.com&mode=multi"
            "&security=tls&sni=grpc.example.com#g");
}

TEST(ShareLink, VlessHttpUpgradeAndXhttp) {
  const json upgrade = json::parse(R"({"protocol": "vless", "port": 80,
      "streamSettings": {"network": "httpupgrade",
        "httpupgradeSettings": {"path": "/up", "host": "up.example.com"}}})");
  EXPECT_EQ(link_or_error(upgrade, make_user("u")),
            "vless://b831381d-6324-4d53-ad4f-8cda48b30811@example.com:80?encryption=none"
            "&type=httpupgrade&host=up.example.com&path=%2Fup&security=none#u");
  const json xhttp = json::parse(R"({"protocol": "vless", "port": 80,
      "streamSettings": {"network": "splithttp",
        "splithttpSettings": {"path": "/x", "mode": "packet-up"}}})");
  EXPECT_EQ(link_or_error(xhttp, make_user("x")),
            "vless://b831381d-6324-4d53-ad4f-8cda48b30811@example.com:80?encryption=none"
            "&type=xhttp&path=%2Fx&mode=packet-up&security=none#x");
}

TEST(ShareLink, TcpHttpHeader) {
  const json inbound = json::parse(R"({"protocol": "vless", "port": 80,
      "streamSettings": {"network": "tcp", "tcpSettings": {"header": {"type": "http",
        "request": {"path": ["/", "/a"], "headers": {"Host": ["a.com", "b.com"]}}}}}})");
  EXPECT_EQ(link_or_error(inbound, make_user("t")),
            "vless://b831381d-6324-4d53-ad4f-8cda48b30811@example.com:80?encryption=none"
            "&type=tcp&headerType=http&host=a.com%2Cb.com&path=%2F%2C%2Fa&security=none#t");
}

TEST(ShareLink, Ipv6HostIsBracketed) {
  const json inbound = json::parse(R"({"protocol": "vless", "port": 443})");
  const std::string expected =
      "vless://b831381d-6324-4d53-ad4f-8cda48b30811@[2001:db8::1]:443"
      "?encryption=none&type=tcp&security=none#six";
  EXPECT_EQ(link_or_error(inbound, make_user("six"), "2001:db8::1"), expected);
  EXPECT_EQ(link_or_error(inbound, make_user("six"), "[2001:db8::1]"), expected);
  EXPECT_EQ(link_or_error(inbound, make_user("four"), "192.0.2.7"),
            "vless://b831381d-6324-4d53-ad4f-8cda48b30811@192.0.2.7:443"
            "?encryption=none&type=tcp&security=none#four");
}

TEST(ShareLink, PortRangesAndListsGiveTheFirstPort) {
  json inbound = json::parse(R"({"protocol": "trojan", "port": "1000-2000"})");
  EXPECT_EQ(link_or_error(inbound, make_user("p", "", "pw")),
            "trojan://pw@example.com:1000?type=tcp&security=none#p");
  inbound["port"] = "8443,9443";
  EXPECT_EQ(link_or_error(inbound, make_user("p", "", "pw")),
            "trojan://pw@example.com:8443?type=tcp&security=none#p");
  inbound["port"] = "443";
  EXPECT_EQ(link_or_error(inbound, make_user("p", "", "pw")),
            "trojan://pw@example.com:443?type=tcp&security=none#p");
  for (const json& bad : {json("env:PORT"), json(0), json(70000), json("99999"), json()}) {
    inbound["port"] = bad;
    const base::Expected<std::string> link = share_link(inbound, make_user("p", "", "pw"), "h");
    EXPECT_FALSE(link) << bad.dump();
  }
}

TEST(ShareLink, OddEmailsAndPasswordsArePercentEncoded) {
  const json inbound = json::parse(R"({"protocol": "trojan", "port": 443,
      "streamSettings": {"security": "tls", "tlsSettings": {"serverName": "t.example.com"}}})");
  EXPECT_EQ(link_or_error(inbound, make_user("bob+tag@example.com 1/é", "", "p@ss:w/rd#?%&=")),
            "trojan://p%40ss%3Aw%2Frd%23%3F%25%26%3D@example.com:443?type=tcp&security=tls"
            "&sni=t.example.com#bob%2Btag%40example.com%201%2F%C3%A9");
}

// --- Trojan --------------------------------------------------------------------------------

TEST(ShareLink, TrojanGrpcTls) {
  const json inbound = json::parse(R"({"protocol": "trojan", "port": 443,
      "settings": {"clients": [{"password": "x", "email": "t@e"}]},
      "streamSettings": {"network": "grpc", "security": "tls",
        "grpcSettings": {"serviceName": "tr"}, "tlsSettings": {"alpn": ["h2"]}}})");
  EXPECT_EQ(link_or_error(inbound, make_user("t@e", "", "secret")),
            "trojan://secret@example.com:443?type=grpc&serviceName=tr&mode=gun&security=tls"
            "&alpn=h2#t%40e");
}

// --- VMess ---------------------------------------------------------------------------------

TEST(ShareLink, VmessWebSocketTlsDecodesToV2rayNJson) {
  const json inbound = json::parse(R"({"protocol": "vmess", "port": 443,
      "settings": {"clients": []},
      "streamSettings": {"network": "ws", "security": "tls",
        "wsSettings": {"path": "/vm", "host": "cdn.example.com"},
        "tlsSettings": {"serverName": "example.com", "alpn": ["http/1.1"]}}})");
  const std::string link = link_or_error(inbound, make_user("carol@example.com"));
  EXPECT_EQ(decode_vmess(link), json::parse(R"({"v": "2", "ps": "carol@example.com",
      "add": "example.com", "port": "443", "id": "b831381d-6324-4d53-ad4f-8cda48b30811",
      "aid": "0", "scy": "auto", "net": "ws", "type": "none", "host": "cdn.example.com",
      "path": "/vm", "tls": "tls", "sni": "example.com", "alpn": "http/1.1", "fp": ""})"));
}

TEST(ShareLink, VmessGrpcAndTcpOnIpv6) {
  const json grpc = json::parse(R"({"protocol": "vmess", "port": "3000-3010",
      "streamSettings": {"network": "grpc", "grpcSettings": {"serviceName": "vs"}}})");
  EXPECT_EQ(decode_vmess(link_or_error(grpc, make_user("d"), "2001:db8::2")),
            json::parse(R"({"v": "2", "ps": "d", "add": "2001:db8::2", "port": "3000",
      "id": "b831381d-6324-4d53-ad4f-8cda48b30811", "aid": "0", "scy": "auto",
      "net": "grpc", "type": "gun", "host": "", "path": "vs", "tls": "", "sni": "",
      "alpn": "", "fp": ""})"));
  const json tcp = json::parse(R"({"protocol": "vmess", "port": 10086})");
  const json decoded = decode_vmess(link_or_error(tcp, make_user("名前")));
  EXPECT_EQ(decoded["ps"], "名前");
  EXPECT_EQ(decoded["net"], "tcp");
  EXPECT_EQ(decoded["type"], "none");
  EXPECT_EQ(decoded["port"], "10086");
}

TEST(ShareLink, VmessWithRealityIsRefused) {
  const json inbound = json::parse(R"({"protocol": "vmess", "port": 443,
      "streamSettings": {"security": "reality", "realitySettings": {
        "privateKey": "kOsBHSgxhAfCeQIQyJvupiXTmQrMmsqi6y6Wc5OQZXc"}}})");
  const base::Expected<std::string> link = share_link(inbound, make_user("v"), "h");
  ASSERT_FALSE(link);
  EXPECT_TRUE(link.error().is(base::Errc::kUnsupported));
}

// --- Shadowsocks ---------------------------------------------------------------------------

TEST(ShareLink, ShadowsocksSingleUserIsBase64UrlWithoutPadding) {
  const json inbound = json::parse(R"({"protocol": "shadowsocks", "port": 8388,
      "settings": {"method": "aes-256-gcm", "password": "p>?~w0rd"}})");
  const std::string link = link_or_error(inbound, make_user("s s"));
  EXPECT_EQ(link, "ss://YWVzLTI1Ni1nY206cD4_fncwcmQ@example.com:8388#s%20s");
  const std::string userinfo = link.substr(5, link.find('@') - 5);
  EXPECT_EQ(decode_base64(userinfo, true), "aes-256-gcm:p>?~w0rd");
  // A store user joins the inbound with their own password.
  const std::string own = link_or_error(inbound, make_user("s", "", "mine"));
  EXPECT_EQ(decode_base64(own.substr(5, own.find('@') - 5), true), "aes-256-gcm:mine");
}

TEST(ShadowsocksLink, StoreUserTakesTheFirstClientsMethodWithoutATopLevelOne) {
  const json inbound = json::parse(R"({"protocol": "shadowsocks", "port": 8388,
      "settings": {"clients": [{"password": "u1pass", "method": "chacha20-ietf-poly1305"}]}})");
  const std::string link = link_or_error(inbound, make_user("store", "", "spass"));
  EXPECT_EQ(decode_base64(link.substr(5, link.find('@') - 5), true),
            "chacha20-ietf-poly1305:spass");
}

TEST(ShadowsocksLink, MultiUserTakesTheClientsMethod) {
  const json inbound = json::parse(R"({"protocol": "shadowsocks", "port": 8388,
      "settings": {"method": "aes-256-gcm",
        "clients": [{"password": "u1pass", "method": "aes-128-gcm", "email": "u1"},
                    {"password": "u2pass", "email": "u2"}]}})");
  EXPECT_EQ(link_or_error(inbound, make_user("u1", "", "u1pass")),
            "ss://YWVzLTEyOC1nY206dTFwYXNz@example.com:8388#u1");
  const std::string link = link_or_error(inbound, make_user("u2", "", "u2pass"));
  EXPECT_EQ(decode_base64(link.substr(5, link.find('@') - 5), true), "aes-256-gcm:u2pass");
}

TEST(ShadowsocksLink, Ss2022MultiUserJoinsServerAndUserKeys) {
  const json inbound = json::parse(R"({"protocol": "shadowsocks", "port": 8388,
      "settings": {"method": "2022-blake3-aes-128-gcm", "password": "8JCsPssfgS8tiRwiMlhARg==",
        "clients": []}})");
  EXPECT_EQ(link_or_error(inbound, make_user("k@e", "", "PCD2Z4o12bKUoFa3cC97Hw==")),
            "ss://2022-blake3-aes-128-gcm:8JCsPssfgS8tiRwiMlhARg%3D%3D%3A"
            "PCD2Z4o12bKUoFa3cC97Hw%3D%3D@example.com:8388#k%40e");
  // Single-user 2022: the inbound's key alone, percent-encoded text (SIP002), no base64.
  const json single = json::parse(R"({"protocol": "shadowsocks", "port": 8388,
      "settings": {"method": "2022-blake3-aes-256-gcm",
                   "password": "YctPZ6U7xPPcU+gp3u+0tx/tRizJN9K8y+uKlW2qjlI="}})");
  EXPECT_EQ(link_or_error(single, make_user("one")),
            "ss://2022-blake3-aes-256-gcm:YctPZ6U7xPPcU%2Bgp3u%2B0tx%2FtRizJN9K8y%2BuKlW2qjlI%3D"
            "@example.com:8388#one");
}

TEST(ShadowsocksLink, MissingCredentialsAndTransportsAreErrors) {
  const json no_method = json::parse(R"({"protocol": "shadowsocks", "port": 1,
      "settings": {"password": "x"}})");
  EXPECT_FALSE(share_link(no_method, make_user("a"), "h"));
  const json multi = json::parse(R"({"protocol": "shadowsocks", "port": 1,
      "settings": {"method": "aes-128-gcm", "clients": []}})");
  EXPECT_FALSE(share_link(multi, make_user("a"), "h"));
  const json ws = json::parse(R"({"protocol": "shadowsocks", "port": 1,
      "settings": {"method": "aes-128-gcm", "password": "x"},
      "streamSettings": {"network": "ws"}})");
  const base::Expected<std::string> link = share_link(ws, make_user("a"), "h");
  ASSERT_FALSE(link);
  EXPECT_TRUE(link.error().is(base::Errc::kUnsupported));
}

// --- SOCKS and HTTP ------------------------------------------------------------------------

TEST(ShareLink, SocksWithAndWithoutAuth) {
  const json inbound = json::parse(R"({"protocol": "socks", "port": 1080,
      "settings": {"auth": "password",
        "accounts": [{"user": "alice", "pass": "s3cr?t>", "email": "alice@example.com"}]}})");
  const std::string link = link_or_error(inbound, make_user("alice@example.com", "", "s3cr?t>"));
  EXPECT_EQ(link, "socks://YWxpY2U6czNjcj90Pg@example.com:1080#alice%40example.com");
  EXPECT_EQ(decode_base64(link.substr(8, link.find('@') - 8), true), "alice:s3cr?t>");
  EXPECT_FALSE(share_link(inbound, make_user("alice@example.com"), "h"));

  const json noauth = json::parse(R"({"protocol": "socks", "port": 1080,
      "settings": {"auth": "noauth"}})");
  EXPECT_EQ(link_or_error(noauth, make_user("anyone"), "::1"), "socks://[::1]:1080#anyone");
}

TEST(ShareLink, HttpAndHttps) {
  const json inbound = json::parse(R"({"protocol": "http", "port": 3128,
      "settings": {"accounts": [{"user": "bob", "pass": "p:w@"}]}})");
  EXPECT_EQ(link_or_error(inbound, make_user("bob", "", "p:w@")),
            "http://bob:p%3Aw%40@example.com:3128#bob");
  EXPECT_FALSE(share_link(inbound, make_user("bob"), "h"));
  json tls = inbound;
  tls["streamSettings"] = json::parse(R"({"security": "tls"})");
  EXPECT_EQ(link_or_error(tls, make_user("bob", "", "pw")), "https://bob:pw@example.com:3128#bob");
}

// --- errors --------------------------------------------------------------------------------

TEST(ShareLink, ProtocolsWithoutLinksAreRefused) {
  for (const char* protocol : {"dokodemo-door", "freedom", "wireguard", ""}) {
    json inbound = json::parse(R"({"port": 53, "settings": {"address": "1.1.1.1"}})");
    inbound["protocol"] = protocol;
    const base::Expected<std::string> link = share_link(inbound, make_user("a"), "h");
    ASSERT_FALSE(link) << protocol;
    EXPECT_TRUE(link.error().is(base::Errc::kUnsupported)) << protocol;
  }
  EXPECT_FALSE(share_link(json::array(), make_user("a"), "h"));
}

TEST(ShareLink, MissingCredentialsAreErrors) {
  const json vless = json::parse(R"({"protocol": "vless", "port": 443})");
  const base::Expected<std::string> link = share_link(vless, make_user("a", ""), "h");
  ASSERT_FALSE(link);
  EXPECT_TRUE(link.error().is(base::Errc::kProtocol));
  EXPECT_NE(link.error().message().find("uuid"), std::string::npos);

  const json vmess = json::parse(R"({"protocol": "vmess", "port": 443})");
  EXPECT_FALSE(share_link(vmess, make_user("a", ""), "h"));
  const json trojan = json::parse(R"({"protocol": "trojan", "port": 443})");
  EXPECT_FALSE(share_link(trojan, make_user("a"), "h"));
  EXPECT_FALSE(share_link(vless, make_user("a"), ""));
}

TEST(ShareLink, UnknownTransportsAndSecuritiesAreRefused) {
  json inbound = json::parse(R"({"protocol": "vless", "port": 443,
      "streamSettings": {"network": "quic"}})");
  EXPECT_FALSE(share_link(inbound, make_user("a"), "h"));
  inbound["streamSettings"] = json::parse(R"({"security": "xtls"})");
  EXPECT_FALSE(share_link(inbound, make_user("a"), "h"));
  inbound["settings"] = json::parse(R"({"decryption": "mlkem768x25519plus.native.600s.x"})");
  inbound.erase("streamSettings");
  EXPECT_FALSE(share_link(inbound, make_user("a"), "h"));
}

// --- inbounds from /work/shared/xray-examples (placeholders filled in) -------------------------

TEST(ShareLinkExamples, VlessGrpcReality) {
  // VLESS-gRPC-REALITY/config_server.jsonc; its client config holds the matching
  // publicKey OBR2JYRO… and shortId d49d578f280fd83a.
  const json inbound = json::parse(R"({
    "listen": "0.0.0.0", "port": 80, "protocol": "vless",
    "settings": {"clients": [{"id": "drEwvgYhS15C", "flow": ""}], "decryption": "none"},
    "streamSettings": {"network": "grpc", "security": "reality",
      "realitySettings": {"show": false, "dest": "www.yahoo.com:443", "xver": 0,
        "serverNames": ["www.yahoo.com", "news.yahoo.com"],
        "privateKey": "kOsBHSgxhAfCeQIQyJvupiXTmQrMmsqi6y6Wc5OQZXc",
        "shortIds": ["d49d578f280fd83a"]},
      "grpcSettings": {"serviceName": ""}},
    "sniffing": {"enabled": true, "destOverride": ["http", "tls", "quic"]}})");
  EXPECT_EQ(link_or_error(inbound, make_user("love@example.com", "drEwvgYhS15C"), "203.0.113.5"),
            "vless://drEwvgYhS15C@203.0.113.5:80?encryption=none&type=grpc&mode=gun"
            "&security=reality&sni=www.yahoo.com&fp=chrome"
            "&pbk=OBR2JYROQB8odK5glVW_KLnsWl3UZ-voyGq_9ihQgTI&sid=d49d578f280fd83a"
            "#love%40example.com");
}

TEST(ShareLinkExamples, VlessTcpTlsAndItsWebSocketFallback) {
  // VLESS-TCP-TLS-WS/config_server.jsonc: both inbounds.
  const json tcp = json::parse(R"({
    "port": 443, "protocol": "vless",
    "settings": {"clients": [{"id": "", "level": 0, "email": "love@example.com"}],
      "decryption": "none",
      "fallbacks": [{"dest": 80}, {"path": "/websocket", "dest": 1234, "xver": 1}]},
    "streamSettings": {"network": "tcp", "security": "tls",
      "tlsSettings": {"alpn": ["http/1.1"], "certificates": [
        {"certificateFile": "/path/to/fullchain.crt", "keyFile": "/path/to/private.key"}]}}})");
  EXPECT_EQ(link_or_error(tcp, make_user("love@example.com"), "vps.example.net"),
            "vless://b831381d-6324-4d53-ad4f-8cda48b30811@vps.example.net:443"
            "?encryption=none&type=tcp&security=tls&alpn=http%2F1.1#love%40example.com");
  const json ws = json::parse(R"({
    "port": 1234, "listen": "127.0.0.1", "protocol": "vless",
    "settings": {"clients": [{"id": "", "level": 0, "email": "love@example.com"}],
      "decryption": "none"},
    "streamSettings": {"network": "ws", "security": "none",
      "wsSettings": {"acceptProxyProtocol": true, "path": "/websocket"}}})");
  EXPECT_EQ(link_or_error(ws, make_user("love@example.com"), "vps.example.net"),
            "vless://b831381d-6324-4d53-ad4f-8cda48b30811@vps.example.net:1234"
            "?encryption=none&type=ws&path=%2Fwebsocket&security=none#love%40example.com");
}

TEST(ShareLinkExamples, VmessWebsocketTls) {
  // VMess-Websocket-TLS/config_server.jsonc.
  const json inbound = json::parse(R"({
    "listen": "0.0.0.0", "port": 1234, "protocol": "vmess",
    "settings": {"clients": [{"id": ""}]},
    "streamSettings": {"network": "ws", "security": "tls",
      "tlsSettings": {"certificates": [{"certificateFile": "/path/to/certificate.crt",
                                        "keyFile": "/path/to/key.key"}]}}})");
  const std::string link = link_or_error(inbound, make_user("vm"), "vps.example.net");
  EXPECT_EQ(link,
            "vmess://eyJ2IjoiMiIsInBzIjoidm0iLCJhZGQiOiJ2cHMuZXhhbXBsZS5uZXQiLCJwb3J0IjoiMTIzNCIs"
            "ImlkIjoiYjgzMTM4MWQtNjMyNC00ZDUzLWFkNGYtOGNkYTQ4YjMwODExIiwiYWlkIjoiMCIsInNjeSI6ImF1"
            "dG8iLCJuZXQiOiJ3cyIsInR5cGUiOiJub25lIiwiaG9zdCI6IiIsInBhdGgiOiIiLCJ0bHMiOiJ0bHMiLCJz"
            "bmkiOiIiLCJhbHBuIjoiIiwiZnAiOiIifQ==");
  EXPECT_EQ(decode_vmess(link), json::parse(R"({"v": "2", "ps": "vm", "add": "vps.example.net",
      "port": "1234", "id": "b831381d-6324-4d53-ad4f-8cda48b30811", "aid": "0",
      "scy": "auto", "net": "ws", "type": "none", "host": "", "path": "", "tls": "tls",
      "sni": "", "alpn": "", "fp": ""})"));
}

TEST(ShareLinkExamples, ShadowsocksTcpAndTrojanOnAUnixSocket) {
  // Shadowsocks-TCP/server.jsonc, its password placeholder kept.
  const json ss = json::parse(R"({
    "listen": "0.0.0.0", "port": 1234, "protocol": "shadowsocks",
    "settings": {"method": "chacha20-ietf-poly1305", "password": "{{ password }}"},
    "streamSettings": {"network": "tcp"}})");
  EXPECT_EQ(link_or_error(ss, make_user("ss"), "vps.example.net"),
            "ss://Y2hhY2hhMjAtaWV0Zi1wb2x5MTMwNTp7eyBwYXNzd29yZCB9fQ@vps.example.net:1234#ss");
  // Trojan-gRPC-Caddy2／Nginx/server.jsonc listens on a Unix socket behind a web server: the
  // inbound has no port a client could reach.
  const json trojan = json::parse(R"({
    "listen": "/dev/shm/Xray-Trojan-gRPC.socket,0666", "protocol": "trojan",
    "settings": {"clients": [{"password": "pw"}]},
    "streamSettings": {"network": "grpc", "grpcSettings": {"serviceName": "tg"}}})");
  const base::Expected<std::string> link = share_link(trojan, make_user("t", "", "pw"), "h");
  ASSERT_FALSE(link);
  EXPECT_NE(link.error().message().find("port"), std::string::npos);
}

}  // namespace
}  // namespace xsup::supervisor::users
