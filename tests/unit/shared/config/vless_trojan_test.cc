// The settings of the VLESS and Trojan inbounds and outbounds and their fallbacks
// (shared/config/vless_trojan.cc).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shared/config/loader.h"
#include "shared/crypto/uuid.h"

namespace xsup::config {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.errors()) out.push_back(d.to_string());
  return out;
}

LoadResult inbound_settings(std::string_view protocol, std::string_view settings) {
  return load_text(std::string(R"({"inbounds": [{"protocol": ")") + std::string(protocol) +
                       R"(", "port": 443, "settings": )" + std::string(settings) + "}]}",
                   "test.json");
}

LoadResult outbound_settings(std::string_view protocol, std::string_view settings) {
  return load_text(std::string(R"({"outbounds": [{"protocol": ")") + std::string(protocol) +
                       R"(", "settings": )" + std::string(settings) + "}]}",
                   "test.json");
}

constexpr const char* kId = "b831381d-6324-4d53-ad4f-8cda48b30811";

TEST(VlessConfig, Inbound) {
  auto r = inbound_settings("vless", std::string(R"({"decryption": "none", "clients": [{"id": ")") +
                                         kId + R"(", "email": "a@x", "level": 1}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& in = std::get<VlessInbound>(r.config.inbounds[0].settings);
  ASSERT_EQ(in.clients.size(), 1u);
  EXPECT_EQ(crypto::to_string(in.clients[0].id), kId);
  EXPECT_EQ(in.clients[0].email, "a@x");
  EXPECT_EQ(in.clients[0].level, 1u);
  EXPECT_EQ(r.config.inbounds[0].protocol, "vless");
}

TEST(VlessConfig, StringIdsMapToUuidV5) {
  // spec/vless.md §2: SHA1(16 zero bytes ‖ "example"), version 5 and variant bits set.
  auto r = inbound_settings("vless", R"({"decryption": "none", "clients": [{"id": "example"}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& id = std::get<VlessInbound>(r.config.inbounds[0].settings).clients[0].id;
  EXPECT_EQ(id[6] >> 4, 5);
  EXPECT_EQ(id[8] >> 6, 2);
  EXPECT_THAT(
      errors(inbound_settings(
          "vless",
          R"({"decryption": "none", "clients": [{"id": "0123456789012345678901234567890"}]})")),
      ElementsAre("inbounds[0].settings.clients[0].id: \"0123456789012345678901234567890\" "
                  "is not a UUID nor a string of 1 to 30 bytes"));
}

TEST(VlessConfig, Rejections) {
  EXPECT_THAT(errors(inbound_settings("vless", R"({"clients": []})")),
              ElementsAre("inbounds[0].settings.decryption: required (\"none\")"));
  EXPECT_THAT(errors(inbound_settings(
                  "vless", std::string(R"({"decryption": "none", "clients": [{"id": ")") + kId +
                               R"(", "flow": "xtls-rprx-vision"}]})")),
              ElementsAre("inbounds[0].settings.clients[0].flow: \"xtls-rprx-vision\" needs "
                          "streamSettings network \"raw\" (tcp) with security \"tls\""));
  EXPECT_THAT(
      errors(
          inbound_settings("vless", std::string(R"({"decryption": "none", "clients": [{"id": ")") +
                                        kId + R"(", "flow": "xtls-rprx-direct"}]})")),
      ElementsAre("inbounds[0].settings.clients[0].flow: \"xtls-rprx-direct\" is not a flow "
                  "(\"\", xtls-rprx-vision, xtls-rprx-vision-udp443)"));
  EXPECT_THAT(errors(inbound_settings(
                  "vless", std::string(R"({"decryption": "none", "clients": [{"id": ")") + kId +
                               R"("}, {"id": "b831381d-6324-ffff-ad4f-8cda48b30811"}]})")),
              ElementsAre("inbounds[0].settings.clients[1]: another client has the same id "
                          "(bytes 6-7 are ignored)"));
  EXPECT_THAT(errors(inbound_settings("vless", R"({"decryption": "mlkem768x25519plus.x"})")),
              ElementsAre("inbounds[0].settings.decryption: \"mlkem768x25519plus.x\" not "
                          "supported yet (only \"none\")"));
}

LoadResult vision_outbound(std::string_view stream, std::string_view flow = "xtls-rprx-vision") {
  return load_text(std::string(R"({"outbounds": [{"protocol": "vless", "settings": {"vnext": [)"
                               R"({"address": "a.test", "port": 443, "users": [{"id": ")") +
                       kId + R"(", "encryption": "none", "flow": ")" + std::string(flow) +
                       R"("}]}]}, "streamSettings": )" + std::string(stream) + "}]}",
                   "test.json");
}

TEST(VlessConfig, VisionNeedsTlsOverRawTcp) {
  for (const char* flow : {"xtls-rprx-vision", "xtls-rprx-vision-udp443"}) {
    auto r = vision_outbound(R"({"network": "tcp", "security": "tls"})", flow);
    ASSERT_TRUE(r.ok()) << errors(r).front();
    EXPECT_EQ(std::get<VlessOutbound>(r.config.outbounds[0].settings).vnext[0].users[0].flow, flow);
  }
  EXPECT_THAT(errors(vision_outbound(R"({"network": "tcp"})")),
              ElementsAre("outbounds[0].settings.vnext[0].users[0].flow: \"xtls-rprx-vision\" "
                          "needs streamSettings network \"raw\" (tcp) with security \"tls\""));
  EXPECT_THAT(errors(outbound_settings("trojan", R"({"servers": [{"address": "a.test", "port": 1,
                    "password": "p", "flow": "xtls-rprx-vision"}]})")),
              ElementsAre("outbounds[0].settings.servers[0].flow: \"xtls-rprx-vision\" is for "
                          "VLESS only"));
}

TEST(VlessConfig, Fallbacks) {
  auto r = inbound_settings("vless", R"({"decryption": "none", "fallbacks": [
      {"dest": 80}, {"path": "/ws", "dest": "127.0.0.1:8080", "xver": 1},
      {"alpn": "H2", "dest": "/run/h2.sock", "xver": 2}, {"name": "a.com", "dest": "@abs"},
      {"name": "b.com", "dest": "@@pad"}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& fbs = std::get<VlessInbound>(r.config.inbounds[0].settings).fallbacks;
  ASSERT_EQ(fbs.size(), 5u);
  EXPECT_EQ(fbs[0].tcp.host_port(), "127.0.0.1:80");
  EXPECT_EQ(fbs[1].path, "/ws");
  EXPECT_EQ(fbs[1].xver, 1);
  EXPECT_EQ(fbs[2].alpn, "h2");
  EXPECT_EQ(fbs[2].kind, Fallback::Kind::kUnix);
  EXPECT_EQ(fbs[2].unix_path, "/run/h2.sock");
  EXPECT_EQ(fbs[3].unix_path, std::string("\0abs", 4));
  EXPECT_EQ(fbs[4].unix_path.size(), 108u);
  EXPECT_EQ(fbs[4].unix_path.substr(0, 4), std::string("\0pad", 4));

  EXPECT_THAT(errors(inbound_settings("vless", R"({"decryption": "none", "fallbacks": [
      {"path": "ws", "dest": 80}, {"dest": "nowhere"}, {"dest": 81, "xver": 3},
      {"dest": "serve-ws-none"}]})")),
              ElementsAre("inbounds[0].settings.fallbacks[0].path: \"ws\" must be empty or "
                          "start with '/'",
                          "inbounds[0].settings.fallbacks[1].dest: \"nowhere\" is not a port, "
                          "host:port or a Unix socket path",
                          "inbounds[0].settings.fallbacks[2].xver: 3 is out of range 0..2",
                          "inbounds[0].settings.fallbacks[3].dest: \"serve-ws-none\" not "
                          "supported yet"));
}

TEST(VlessConfig, DuplicateFallbacks) {
  EXPECT_THAT(errors(inbound_settings("vless", R"({"decryption": "none", "fallbacks": [
      {"dest": 80}, {"path": "/a", "dest": 81}, {"dest": 82}]})")),
              ElementsAre("inbounds[0].settings.fallbacks[2]: another fallback has the same "
                          "name, alpn and path"));
}

TEST(VlessConfig, Outbound) {
  auto r = outbound_settings("vless", std::string(R"({"vnext": [{"address": "example.com",
      "port": 443, "users": [{"id": ")") + kId +
                                          R"(", "encryption": "none"}]}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& out = std::get<VlessOutbound>(r.config.outbounds[0].settings);
  ASSERT_EQ(out.vnext.size(), 1u);
  EXPECT_EQ(out.vnext[0].address.host_port(), "example.com:443");
  EXPECT_EQ(crypto::to_string(out.vnext[0].users[0].id), kId);
  EXPECT_THAT(errors(outbound_settings("vless", std::string(R"({"vnext": [{"address": "a",
      "port": 1, "users": [{"id": ")") + kId + R"("}]}]})")),
              ElementsAre("outbounds[0].settings.vnext[0].users[0].encryption: required "
                          "(\"none\")"));
  EXPECT_THAT(errors(outbound_settings("vless", R"({})")),
              ElementsAre("outbounds[0].settings.vnext: required"));
}

// Xray's flat outbound form: the one server's and user's fields in settings itself.
TEST(OutboundConfig, FlatFormOfEveryProtocol) {
  auto r = outbound_settings("vless", std::string(R"({"address": "example.com", "port": 443,
      "id": ")") + kId + R"(", "encryption": "none", "level": 2, "email": "v@x"})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_TRUE(r.warnings().empty()) << r.warnings().front().to_string();
  const auto& vless = std::get<VlessOutbound>(r.config.outbounds[0].settings);
  ASSERT_EQ(vless.vnext.size(), 1u);
  EXPECT_EQ(vless.vnext[0].address.host_port(), "example.com:443");
  ASSERT_EQ(vless.vnext[0].users.size(), 1u);
  EXPECT_EQ(crypto::to_string(vless.vnext[0].users[0].id), kId);
  EXPECT_EQ(vless.vnext[0].users[0].level, 2u);

  r = outbound_settings("vmess", std::string(R"({"address": "1.2.3.4", "port": 8443, "id": ")") +
                                     kId + R"(", "security": "chacha20-poly1305"})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_TRUE(r.warnings().empty()) << r.warnings().front().to_string();
  const auto& vmess = std::get<VmessOutbound>(r.config.outbounds[0].settings);
  ASSERT_EQ(vmess.vnext.size(), 1u);
  EXPECT_EQ(vmess.vnext[0].address.host_port(), "1.2.3.4:8443");
  EXPECT_EQ(vmess.vnext[0].users[0].security, VmessSecurity::kChacha20Poly1305);

  r = outbound_settings("trojan", R"({"address": "t.example", "port": 443, "password": "p"})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_TRUE(r.warnings().empty()) << r.warnings().front().to_string();
  EXPECT_EQ(std::get<TrojanOutbound>(r.config.outbounds[0].settings).servers[0].user.password, "p");

  r = outbound_settings("shadowsocks", R"({"address": "s.example", "port": 8388,
      "method": "aes-128-gcm", "password": "pw"})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_TRUE(r.warnings().empty()) << r.warnings().front().to_string();
  const auto& ss = std::get<ShadowsocksOutbound>(r.config.outbounds[0].settings);
  ASSERT_EQ(ss.servers.size(), 1u);
  EXPECT_EQ(ss.servers[0].address.host_port(), "s.example:8388");
  EXPECT_EQ(ss.servers[0].user.method, "aes-128-gcm");

  // Errors name the flat field.
  EXPECT_THAT(errors(outbound_settings("vless", R"({"address": "", "port": 443, "id": "",
      "encryption": "none"})")),
              ElementsAre("outbounds[0].settings.address: must not be empty",
                          "outbounds[0].settings.id: \"\" is not a UUID nor a string of 1 to "
                          "30 bytes"));
  EXPECT_THAT(errors(outbound_settings("trojan", R"({"address": "a", "port": 1})")),
              ElementsAre("outbounds[0].settings.password: required"));
}

TEST(TrojanConfig, InboundAndOutbound) {
  auto r = inbound_settings("trojan", R"({"clients": [{"password": "p", "email": "a@x"}],
      "fallbacks": [{"dest": 80}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& in = std::get<TrojanInbound>(r.config.inbounds[0].settings);
  ASSERT_EQ(in.clients.size(), 1u);
  EXPECT_EQ(in.clients[0].password, "p");
  EXPECT_EQ(in.fallbacks.size(), 1u);
  EXPECT_THAT(errors(inbound_settings("trojan", R"({"clients": [{"email": "a"},
      {"password": "p"}, {"password": "p"}]})")),
              ElementsAre("inbounds[0].settings.clients[0].password: required",
                          "inbounds[0].settings.clients[2].password: another client has the "
                          "same password"));

  r = outbound_settings("trojan", R"({"servers": [{"address": "127.0.0.1", "port": 443,
      "password": "p"}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& out = std::get<TrojanOutbound>(r.config.outbounds[0].settings);
  EXPECT_EQ(out.servers[0].user.password, "p");
  EXPECT_THAT(errors(outbound_settings("trojan", R"({"servers": [{"address": "a", "port": 1}]})")),
              ElementsAre("outbounds[0].settings.servers[0].password: required"));
  EXPECT_TRUE(r.warnings().empty());
}

}  // namespace
}  // namespace xsup::config
