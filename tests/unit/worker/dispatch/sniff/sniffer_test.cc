#include "worker/dispatch/sniff/sniffer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace xsup::worker::dispatch::sniff {
namespace {

using base::Errc;

std::vector<std::uint8_t> from_hex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::vector<std::uint8_t> from_text(std::string_view text) { return {text.begin(), text.end()}; }

// Captured from `openssl s_client -connect 127.0.0.1:PORT -servername example.com`
// (OpenSSL 3) against a python listener that recorded the bytes: one 317-byte record.
const std::vector<std::uint8_t> kClientHelloExampleCom = from_hex(
    "16030101380100013403036522d4d40763f0a191f2143bbe56aa5b0bb47a3889258d8f3f0a335404d9778920fd1119"
    "b7"
    "be3cd2c668987dfbea8b9e8659bc5bbada0a6add9c4a5c7b03503ca5003e130213031301c02cc030009fcca9cca8cc"
    "aa"
    "c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000"
    "ad"
    "00000010000e00000b6578616d706c652e636f6d000b000403000102000a00160014001d0017001e00190018010001"
    "01"
    "010201030104002300000016000000170000000d002a0028040305030603080708080809080a080b08040805080604"
    "01"
    "05010601030303010302040205020602002b0009080304030303020301002d00020101003300260024001d0020df86"
    "33"
    "b377ce6d6eec957a99aa4404836e94f91b05b573ee02f28350764d7868");

// Same, with `-noservername`: a ClientHello without the server_name extension.
const std::vector<std::uint8_t> kClientHelloNoSni = from_hex(
    "16030101240100012003038326e32e0174bed8696299d76b7c8dffa3f99ee8f79d57c87e9f4b6fbb57c95e209fde6c"
    "f9"
    "4efd73c6ea09dbcd9396bda882672a08e61b244d18e89141b091c6d4003e130213031301c02cc030009fcca9cca8cc"
    "aa"
    "c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000"
    "99"
    "000b000403000102000a00160014001d0017001e001900180100010101020103010400230000001600000017000000"
    "0d"
    "002a0028040305030603080708080809080a080b080408050806040105010601030303010302040205020602002b00"
    "09"
    "080304030303020301002d00020101003300260024001d0020e293df2971f9ba47345b5c38d11abe6a90df81b0ead6"
    "a7"
    "dc73e3c363c9912c28");

// Offset of "example.com" (after the 2-byte list length, type and 2-byte name length).
std::size_t sni_offset(const std::vector<std::uint8_t>& hello) {
  std::string_view text(reinterpret_cast<const char*>(hello.data()), hello.size());
  return text.find("example.com");
}

TEST(SniffTls, RealClientHello) {
  ASSERT_EQ(kClientHelloExampleCom.size(), 317u);
  auto result = sniff_tls(kClientHelloExampleCom);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->protocol, "tls");
  EXPECT_EQ(result->domain, "example.com");
}

TEST(SniffTls, EveryPrefixNeedsMore) {
  const auto& hello = kClientHelloExampleCom;
  for (std::size_t n = 0; n < hello.size(); ++n) {
    auto result = sniff_tls(std::span(hello).first(n));
    ASSERT_FALSE(result) << n;
    EXPECT_TRUE(result.error().is(Errc::kNeedMore)) << n << ": " << result.error().message();
    auto any = sniff_tcp(std::span(hello).first(n));
    ASSERT_FALSE(any) << n;
    EXPECT_TRUE(any.error().is(Errc::kNeedMore)) << n;
  }
}

TEST(SniffTls, TrailingBytesAfterTheRecordAreIgnored) {
  auto hello = kClientHelloExampleCom;
  hello.insert(hello.end(), {0x17, 0x03, 0x03, 0x00, 0x10});
  auto result = sniff_tcp(hello);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->protocol, "tls");
  EXPECT_EQ(result->domain, "example.com");
}

TEST(SniffTls, NoServerNameIsAMismatch) {
  auto result = sniff_tls(kClientHelloNoSni);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::kProtocol));
}

TEST(SniffTls, RecordHeaderChecks) {
  auto hello = kClientHelloExampleCom;
  hello[0] = 0x17;  // application data, not handshake
  EXPECT_TRUE(sniff_tls(hello).error().is(Errc::kProtocol));
  hello = kClientHelloExampleCom;
  hello[1] = 0x02;  // SSL 2 major version
  EXPECT_TRUE(sniff_tls(hello).error().is(Errc::kProtocol));
  hello = kClientHelloExampleCom;
  hello[2] = 0x04;  // any minor version is accepted (§2.1)
  EXPECT_TRUE(sniff_tls(hello));
  hello = kClientHelloExampleCom;
  hello[5] = 0x02;  // the handshake type is not checked either
  EXPECT_TRUE(sniff_tls(hello));
}

TEST(SniffTls, TrailingDotIsRejected) {
  auto hello = kClientHelloExampleCom;
  hello[sni_offset(hello) + 10] = '.';  // "example.co."
  auto result = sniff_tls(hello);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::kProtocol));
}

TEST(SniffTls, ControlByteInNameNeedsMore) {
  auto hello = kClientHelloExampleCom;
  hello[sni_offset(hello) + 3] = ' ';
  auto result = sniff_tls(hello);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::kNeedMore));
}

TEST(SniffTls, ExtensionsMustFillTheRecord) {
  auto hello = kClientHelloExampleCom;
  // Grow the record by one byte without growing the extensions block.
  hello[4] = static_cast<std::uint8_t>(hello[4] + 1);
  hello.push_back(0);
  auto result = sniff_tls(hello);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::kProtocol));
}

TEST(SniffTls, OddCipherSuiteLengthIsAMismatch) {
  auto hello = kClientHelloExampleCom;
  std::size_t suites = 5 + 39 + hello[5 + 38];  // u16 length after the session id
  hello[suites + 1] = static_cast<std::uint8_t>(hello[suites + 1] + 1);
  auto result = sniff_tls(hello);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::kProtocol));
}

TEST(SniffHttp, HostLowerCasedAndPortStripped) {
  auto request = from_text(
      "GET / HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n");
  auto result = sniff_http(request);
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->protocol, "http1");
  EXPECT_EQ(result->domain, "example.com");

  // Every prefix: "no clue" until the Host line is complete, never a mismatch or a
  // truncated name.
  std::size_t host_end = std::string_view("GET / HTTP/1.1\r\nHost: Example.COM:8080\r\n").size();
  for (std::size_t n = 0; n < request.size(); ++n) {
    auto partial = sniff_http(std::span(request).first(n));
    if (n < host_end) {
      ASSERT_FALSE(partial) << n;
      EXPECT_TRUE(partial.error().is(Errc::kNeedMore)) << n;
      auto any = sniff_tcp(std::span(request).first(n));
      ASSERT_FALSE(any) << n;
      EXPECT_TRUE(any.error().is(Errc::kNeedMore)) << n;
    } else {
      ASSERT_TRUE(partial) << n;
      EXPECT_EQ(partial->domain, "example.com");
    }
  }
}

TEST(SniffHttp, Methods) {
  for (const char* method : {"get", "POST", "Head", "PUT", "DELETE", "OPTIONS", "CONNECT"}) {
    auto request = from_text(std::string(method) + " / HTTP/1.1\r\nHost: a.example\r\n\r\n");
    auto result = sniff_http(request);
    ASSERT_TRUE(result) << method;
    EXPECT_EQ(result->domain, "a.example");
  }
  auto patch = from_text("PATCH / HTTP/1.1\r\nHost: a.example\r\n\r\n");
  EXPECT_TRUE(sniff_http(patch).error().is(Errc::kProtocol));
  // Shorter than a method still to compare: no clue.
  EXPECT_TRUE(sniff_http(from_text("PAT")).error().is(Errc::kNeedMore));
  EXPECT_TRUE(sniff_http(from_text("PATCH ")).error().is(Errc::kNeedMore));
  EXPECT_TRUE(sniff_http(from_text("PATCH /")).error().is(Errc::kProtocol));
}

TEST(SniffHttp, HostForms) {
  auto domain_of = [](std::string_view host) {
    auto request = from_text("GET / HTTP/1.1\nhost:" + std::string(host) + "\n\n");
    auto result = sniff_http(request);
    return result ? result->domain : std::string("error");
  };
  EXPECT_EQ(domain_of("  WWW.Example.org  "), "www.example.org");
  EXPECT_EQ(domain_of("[2001:DB8::1]:443"), "2001:db8::1");
  EXPECT_EQ(domain_of("[::1]"), "::1");
  EXPECT_EQ(domain_of("192.0.2.1:80"), "192.0.2.1");
  EXPECT_EQ(domain_of("example.net:"), "example.net");
  EXPECT_EQ(domain_of("example.net:http"), "error");
  EXPECT_EQ(domain_of("2001:db8::1"), "error");
  EXPECT_EQ(domain_of("[::1"), "error");
}

TEST(SniffHttp, HeaderBlockEndsAtEmptyLine) {
  auto request = from_text("GET / HTTP/1.1\r\nAccept: */*\r\n\r\nHost: body.example\r\n");
  auto result = sniff_http(request);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::kNeedMore));
}

TEST(SniffHttp, LastHostWins) {
  auto request = from_text("GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n");
  auto result = sniff_http(request);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->domain, "b.example");
}

TEST(SniffBittorrent, Handshake) {
  std::vector<std::uint8_t> hs{19};
  for (char c : std::string_view("BitTorrent protocol")) hs.push_back(static_cast<std::uint8_t>(c));
  hs.resize(hs.size() + 8, 0);  // reserved bytes
  for (std::size_t n = 0; n < 20; ++n) {
    EXPECT_TRUE(sniff_bittorrent(std::span(hs).first(n)).error().is(Errc::kNeedMore)) << n;
  }
  auto result = sniff_bittorrent(hs);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->protocol, "bittorrent");
  EXPECT_TRUE(result->domain.empty());
  auto any = sniff_tcp(hs);
  ASSERT_TRUE(any);
  EXPECT_EQ(any->protocol, "bittorrent");

  hs[5] = 'x';
  EXPECT_TRUE(sniff_bittorrent(hs).error().is(Errc::kProtocol));
  hs[5] = 'o';
  hs[0] = 18;
  EXPECT_TRUE(sniff_bittorrent(hs).error().is(Errc::kProtocol));
}

TEST(SniffTcp, UnknownContent) {
  auto ssh = from_text("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
  auto result = sniff_tcp(ssh);
  ASSERT_FALSE(result);
  EXPECT_TRUE(result.error().is(Errc::kProtocol));
  EXPECT_TRUE(sniff_tcp({}).error().is(Errc::kNeedMore));
}

}  // namespace
}  // namespace xsup::worker::dispatch::sniff
