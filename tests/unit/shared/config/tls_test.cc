// streamSettings.security "tls" and tlsSettings (shared/config/stream.cc).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "shared/config/loader.h"

namespace xsup::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.errors()) out.push_back(d.to_string());
  return out;
}

std::vector<std::string> warnings(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics) {
    if (d.warning) out.push_back(d.to_string());
  }
  return out;
}

// A self-signed P-256 certificate for "unit.test", valid until 2126, and its key.
constexpr const char* kCert = R"(["-----BEGIN CERTIFICATE-----",
  "MIIBlTCCATugAwIBAgIUV/EZLCMySEvKcx4IaXGkLDf6ZlcwCgYIKoZIzj0EAwIw",
  "FDESMBAGA1UEAwwJdW5pdC50ZXN0MCAXDTI2MTEyMjA4MDIwNFoYDzIxMjYxMDI5",
  "MDgwMjA0WjAUMRIwEAYDVQQDDAl1bml0LnRlc3QwWTATBgcqhkjOPQIBBggqhkjO",
  "PQMBBwNCAAS9zv1AMPgrZHAASRHLl1QzaCszLZnH0wwoyzj8jXpq3db8P76lSP2H",
  "8B9MNcuY3J3nQN8wJyGJ8uD4GRst7nQfo2kwZzAdBgNVHQ4EFgQUaMnmfQofxx7t",
  "lv1mHwWGQzC43KUwHwYDVR0jBBgwFoAUaMnmfQofxx7tlv1mHwWGQzC43KUwDwYD",
  "VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALggl1bml0LnRlc3QwCgYIKoZIzj0EAwID",
  "SAAwRQIgVNF6jDL6SwGSix5Ezg8yrfqH7SdG/XKk5PcwJ1nhr+sCIQDDFHxQqliS",
  "+bqJEFyEpc1TaaqmFRQ7qtMTz4rSl5izOA==", "-----END CERTIFICATE-----"])";
constexpr const char* kKey = R"(["-----BEGIN PRIVATE KEY-----",
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQguO9qkU3U7IeSl4+R",
  "+AIyXKNYTnwzGeRIBysawumxQL6hRANCAAS9zv1AMPgrZHAASRHLl1QzaCszLZnH",
  "0wwoyzj8jXpq3db8P76lSP2H8B9MNcuY3J3nQN8wJyGJ8uD4GRst7nQf", "-----END PRIVATE KEY-----"])";
// Another key: it does not match kCert.
constexpr const char* kOtherKey = R"(["-----BEGIN PRIVATE KEY-----",
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgjfvrOKGno8EsDgMi",
  "GaoyXKHtXD0PFioo3kC51JehC6ehRANCAASGUMTYiba/Shx/J/2PK6CAWRBn1HgD",
  "v3RYHXZGzprnz7Lpvkgi88A8kWKO3DGDca9FXd6n/fx7V/T3U0yGc90a", "-----END PRIVATE KEY-----"])";

std::string inline_cert(const char* key = kKey) {
  return std::string(R"({"certificate": )") + kCert + R"(, "key": )" + key + "}";
}

LoadResult inbound(const std::string& tls) {
  return load_text(R"({"inbounds": [{"protocol": "socks", "port": 1080, "streamSettings":
      {"security": "tls", "tlsSettings": )" +
                       tls + "}}]}",
                   "test.json");
}

LoadResult outbound(const std::string& tls) {
  return load_text(R"({"outbounds": [{"protocol": "socks", "settings": {"servers":
      [{"address": "example.com", "port": 1080}]}, "streamSettings":
      {"security": "tls", "tlsSettings": )" +
                       tls + "}}]}",
                   "test.json");
}

constexpr const char* kTls = "inbounds[0].streamSettings.tlsSettings";

TEST(TlsConfig, InboundWithInlineCertificate) {
  LoadResult r = inbound(R"({"serverName": "unit.test", "rejectUnknownSni": true,
      "alpn": ["http/1.1"], "minVersion": "1.2", "maxVersion": "1.3",
      "cipherSuites": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384",
      "certificates": [)" +
                         inline_cert() + "]}");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const auto& stream = r.config.inbounds[0].stream;
  EXPECT_EQ(stream.security, SecurityKind::kTls);
  const TlsConfig& tls = stream.tls;
  EXPECT_EQ(tls.server_name, "unit.test");
  EXPECT_TRUE(tls.reject_unknown_sni);
  EXPECT_THAT(tls.alpn, ElementsAre("http/1.1"));
  EXPECT_EQ(tls.min_version, "1.2");
  EXPECT_EQ(tls.max_version, "1.3");
  // Go's names are taken and turned into OpenSSL's, split by protocol version.
  EXPECT_EQ(tls.tls12_ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(tls.tls13_suites, "TLS_AES_256_GCM_SHA384");
  ASSERT_EQ(tls.certificates.size(), 1u);
  EXPECT_THAT(tls.certificates[0].certificate_pem, HasSubstr("BEGIN CERTIFICATE-----\nMIIB"));
  EXPECT_THAT(tls.certificates[0].key_pem, HasSubstr("END PRIVATE KEY-----\n"));
  EXPECT_EQ(tls.path, kTls);
}

TEST(TlsConfig, CertificateFilesAreReadWhenBuilt) {
  const std::string dir = ::testing::TempDir();
  const std::string cert_file = dir + "/xsup_tls_test_cert.pem";
  const std::string key_file = dir + "/xsup_tls_test_key.pem";
  {
    LoadResult r = inbound(std::string(R"({"certificates": [)") + inline_cert() + "]}");
    ASSERT_TRUE(r.ok());
    std::ofstream(cert_file) << r.config.inbounds[0].stream.tls.certificates[0].certificate_pem;
    std::ofstream(key_file) << r.config.inbounds[0].stream.tls.certificates[0].key_pem;
  }
  LoadResult r = inbound(R"({"certificates": [{"certificateFile": ")" + cert_file +
                         R"(", "keyFile": ")" + key_file + R"(", "usage": "encipherment",
      "oneTimeLoading": true}]})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_THAT(r.config.inbounds[0].stream.tls.certificates[0].certificate_pem,
              HasSubstr("BEGIN CERTIFICATE"));
  // A file wins over inline lines, as in Xray.
  r = inbound(R"({"certificates": [{"certificateFile": ")" + cert_file + R"(", "keyFile": ")" +
              key_file + R"(", "key": )" + kOtherKey + "}]}");
  EXPECT_TRUE(r.ok());
  std::remove(cert_file.c_str());
  std::remove(key_file.c_str());

  EXPECT_THAT(errors(inbound(R"({"certificates": [{"certificateFile": "/nonexistent/c.pem",
      "key": )" + std::string(kKey) +
                             "}]}")),
              ElementsAre(std::string(kTls) +
                          ".certificates[0].certificateFile: cannot read \"/nonexistent/c.pem\": "
                          "No such file or directory"));
}

TEST(TlsConfig, BadCertificatesAreReportedWithTheirPath) {
  EXPECT_THAT(errors(inbound(std::string(R"({"certificates": [)") + inline_cert(kOtherKey) + "]}")),
              ElementsAre(std::string(kTls) +
                          ".certificates[0]: the private key does not match the certificate"));
  EXPECT_THAT(errors(inbound(R"({"certificates": [{"certificate": ["junk"], "key": ["junk"]}]})")),
              ElementsAre(std::string(kTls) + ".certificates[0]: no PEM certificate found"));
  EXPECT_THAT(errors(inbound(R"({"certificates": [{"certificate": )" + std::string(kCert) + "}]}")),
              ElementsAre(std::string(kTls) + ".certificates[0]: keyFile or key required"));
  EXPECT_THAT(errors(inbound(R"({"serverName": "a"})")),
              ElementsAre(std::string(kTls) +
                          ": a TLS inbound needs at least one certificate (certificates)"));
  EXPECT_THAT(errors(load_text(R"({"inbounds": [{"protocol": "socks", "port": 1,
      "streamSettings": {"security": "tls"}}]})",
                               "test.json")),
              ElementsAre("inbounds[0].streamSettings.security: a TLS inbound needs tlsSettings "
                          "with a certificate"));
}

TEST(TlsConfig, BadValues) {
  const std::string cert = inline_cert();
  EXPECT_THAT(
      errors(inbound(R"({"minVersion": "1.4", "certificates": [)" + cert + "]}")),
      ElementsAre(std::string(kTls) + ".minVersion: \"1.4\" is not a TLS version (1.0 .. 1.3)"));
  EXPECT_THAT(errors(inbound(R"({"minVersion": "1.3", "maxVersion": "1.2", "certificates": [)" +
                             cert + "]}")),
              ElementsAre(std::string(kTls) + ".maxVersion: 1.2 is below minVersion 1.3"));
  EXPECT_THAT(errors(inbound(R"({"cipherSuites": "TLS_NOPE", "certificates": [)" + cert + "]}")),
              ElementsAre(std::string(kTls) + ".cipherSuites: \"TLS_NOPE\" is not a cipher suite"));
  EXPECT_THAT(errors(inbound(R"({"alpn": [""], "certificates": [)" + cert + "]}")),
              ElementsAre(std::string(kTls) + ".alpn: \"\" is not an ALPN protocol name"));
}

TEST(TlsConfig, WhatIsNotImplementedIsRefused) {
  const std::string cert = inline_cert();
  const std::string prefix = "outbounds[0].streamSettings.tlsSettings.";
  EXPECT_THAT(errors(outbound(R"({"fingerprint": "chrome",
      "pinnedPeerCertificatePublicKeySha256": ["abc"], "curvePreferences": ["X25519"],
      "echConfigList": "x"})")),
              ElementsAre(prefix + "fingerprint: not supported yet",
                          prefix + "echConfigList: not supported yet",
                          prefix + "pinnedPeerCertificatePublicKeySha256: not supported yet",
                          prefix + "curvePreferences: not supported yet"));
  // The defaults say nothing and pass.
  EXPECT_TRUE(outbound(R"({"fingerprint": "", "pinnedPeerCertificateChainSha256": [""],
      "enableSessionResumption": false, "disableSystemRoot": true})")
                  .ok());
  EXPECT_THAT(errors(inbound(R"({"certificates": [{"usage": "verify", "certificate": )" +
                             std::string(kCert) + "}, " + cert + "]}")),
              ElementsAre(std::string(kTls) +
                          ".certificates: usage \"verify\" on an inbound (client certificates) "
                          "not supported yet"));
  EXPECT_THAT(errors(inbound(R"({"certificates": [{"usage": "issue", "ocspStapling": 3600,
      "buildChain": true, "certificate": ["x"]}]})")),
              ElementsAre(std::string(kTls) + ".certificates[0].ocspStapling: not supported yet",
                          std::string(kTls) + ".certificates[0].usage: \"issue\" not supported yet",
                          std::string(kTls) + ".certificates[0].buildChain: not supported yet"));
  EXPECT_THAT(errors(load_text(R"({"inbounds": [{"protocol": "socks", "port": 1,
      "streamSettings": {"security": "reality"}}]})",
                               "test.json")),
              ElementsAre("inbounds[0].streamSettings.security: \"reality\" not supported yet"));
}

TEST(TlsConfig, ClientVerifyPinningResumptionAndKeyLog) {
  const std::string prefix = "outbounds[0].streamSettings.tlsSettings.";
  const std::string pin = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVpBQkNERUY=";
  LoadResult r = outbound(R"({"certificates": [{"usage": "verify", "certificate": )" +
                          std::string(kCert) + R"(}], "disableSystemRoot": true,
      "pinnedPeerCertificateChainSha256": [")" +
                          pin + R"(", ""],
      "enableSessionResumption": true, "masterKeyLog": "/tmp/keys.log"})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  const TlsConfig& tls = r.config.outbounds[0].stream.tls;
  ASSERT_EQ(tls.verify_cas.size(), 1u);
  EXPECT_THAT(tls.verify_cas[0], HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_TRUE(tls.certificates.empty());
  EXPECT_THAT(tls.pinned_chain_sha256, ElementsAre(pin));
  EXPECT_TRUE(tls.enable_session_resumption);
  EXPECT_EQ(tls.master_key_log, "/tmp/keys.log");
  EXPECT_THAT(errors(outbound(R"({"pinnedPeerCertificateChainSha256": ["abc"]})")),
              ElementsAre(prefix + "pinnedPeerCertificateChainSha256: \"abc\" is not a base64 "
                                   "SHA-256 hash"));
  EXPECT_THAT(errors(outbound(R"({"certificates": [{"usage": "verify",
      "certificate": ["x"]}]})")),
              ElementsAre(prefix + "certificates[0]: no PEM certificate found"));
}

TEST(TlsConfig, OutboundNeedsNoCertificateAndWarnsWhenInsecure) {
  LoadResult r = outbound(R"({"serverName": "example.com", "allowInsecure": true})");
  ASSERT_TRUE(r.ok()) << errors(r).front();
  EXPECT_TRUE(r.config.outbounds[0].stream.tls.allow_insecure);
  EXPECT_THAT(warnings(r), ElementsAre("outbounds[0].streamSettings.tlsSettings.allowInsecure: "
                                       "the server's certificate is NOT verified: anyone on the "
                                       "path can read and change this traffic"));
}

}  // namespace
}  // namespace xsup::config
