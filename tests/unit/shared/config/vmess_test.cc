// VMess settings in the loader (shared/config/vmess.cc).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shared/config/loader.h"

namespace xsup::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> strings(const std::vector<Diagnostic>& list) {
  std::vector<std::string> out;
  for (const auto& d : list) out.push_back(d.to_string());
  return out;
}

LoadResult load(std::string_view text) { return load_text(text, "test.json"); }
LoadResult inbound(std::string_view settings) {
  return load(std::string(R"({"inbounds": [{"protocol": "vmess", "port": 443, "settings": )") +
              std::string(settings) + "}]}");
}
LoadResult outbound(std::string_view settings) {
  return load(std::string(R"({"outbounds": [{"protocol": "vmess", "settings": )") +
              std::string(settings) + "}]}");
}

constexpr const char* kId = "b831381d-6324-4d53-ad4f-8cda48b30811";

TEST(VmessConfig, InboundClients) {
  LoadResult r = inbound(std::string(R"({"clients": [{"id": ")") + kId +
                         R"(", "level": 1, "email": "a@x", "alterId": 0}, {"id": "alias"}],
                              "default": {"level": 2}})");
  ASSERT_TRUE(r.ok()) << strings(r.errors()).front();
  const auto& s = std::get<VmessInbound>(r.config.inbounds[0].settings);
  ASSERT_EQ(s.clients.size(), 2u);
  EXPECT_EQ(s.clients[0].email, "a@x");
  EXPECT_EQ(s.clients[0].level, 1u);
  EXPECT_EQ(s.clients[0].id[0], 0xb8);
  EXPECT_EQ(s.clients[1].level, 2u);
  // An alias maps to a version-5 UUID.
  EXPECT_EQ(s.clients[1].id[6] >> 4, 5);
  EXPECT_FALSE(s.legacy_security);
}

TEST(VmessConfig, AlterIdRefused) {
  EXPECT_THAT(
      strings(inbound(std::string(R"({"clients": [{"id": ")") + kId + R"(", "alterId": 4}]})")
                  .errors()),
      ElementsAre("inbounds[0].settings.clients[0].alterId: alterId > 0 (legacy MD5 "
                  "auth) not supported"));
  EXPECT_THAT(
      strings(inbound(R"({"clients": [{"id": "b831381d-6324-4d53-ad4f-8cda48b3081z"}]})").errors()),
      ElementsAre("inbounds[0].settings.clients[0].id: "
                  "\"b831381d-6324-4d53-ad4f-8cda48b3081z\" is not a UUID"));
  EXPECT_THAT(
      strings(inbound(R"({"clients": [{"id": "an-alias-that-is-longer-than-30"}]})").errors()),
      ElementsAre("inbounds[0].settings.clients[0].id: "
                  "\"an-alias-that-is-longer-than-30\" is not a UUID nor a string of 1 to "
                  "30 bytes"));
}

TEST(VmessConfig, OutboundSecurity) {
  const std::string server = std::string(R"({"vnext": [{"address": "127.0.0.1", "port": 1,
      "users": [{"id": ")") + kId +
                             R"(", "security": ")";
  LoadResult r = outbound(server + R"(chacha20-poly1305"}]}]})");
  ASSERT_TRUE(r.ok()) << strings(r.errors()).front();
  const auto& s = std::get<VmessOutbound>(r.config.outbounds[0].settings);
  ASSERT_EQ(s.vnext.size(), 1u);
  EXPECT_EQ(s.vnext[0].users[0].security, VmessSecurity::kChacha20Poly1305);
  EXPECT_EQ(s.vnext[0].address.port, 1);

  EXPECT_THAT(strings(outbound(server + R"(none"}]}]})").errors()),
              ElementsAre("outbounds[0].settings.vnext[0].users[0].security: \"none\" sends the "
                          "body unencrypted and was removed from Xray; set "
                          "outbounds[0].settings.legacySecurity to true to allow it"));
  LoadResult legacy = outbound(std::string(R"({"legacySecurity": true, "vnext": [{"address":
      "127.0.0.1", "port": 1, "users": [{"id": ")") +
                               kId + R"(", "security": "zero"}]}]})");
  ASSERT_TRUE(legacy.ok()) << strings(legacy.errors()).front();
  EXPECT_EQ(std::get<VmessOutbound>(legacy.config.outbounds[0].settings).vnext[0].users[0].security,
            VmessSecurity::kZero);

  LoadResult odd = outbound(server + R"(aes-128-cfb"}]}]})");
  ASSERT_TRUE(odd.ok());
  EXPECT_THAT(strings(odd.warnings()),
              ElementsAre("outbounds[0].settings.vnext[0].users[0].security: \"aes-128-cfb\" "
                          "is not a VMess security; using \"auto\" as Xray does"));
}

TEST(VmessConfig, OutboundNeedsServerAndUser) {
  EXPECT_THAT(strings(outbound("{}").errors()),
              ElementsAre("outbounds[0].settings.vnext: required"));
  EXPECT_THAT(strings(outbound(R"({"vnext": [{"address": "a.example", "port": 1}]})").errors()),
              ElementsAre("outbounds[0].settings.vnext[0].users: required"));
  EXPECT_THAT(strings(outbound(R"({"vnext": []})").errors()),
              ElementsAre("outbounds[0].settings.vnext: at least one server is required"));
  EXPECT_THAT(strings(outbound(R"({"vnext": [{"address": "a.example", "port": 1, "users":
      [{"id": "x", "alterId": 1}]}]})")
                          .errors()),
              ElementsAre("outbounds[0].settings.vnext[0].users[0].alterId: alterId > 0 "
                          "(legacy MD5 auth) not supported"));
}

}  // namespace
}  // namespace xsup::config
