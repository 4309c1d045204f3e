// spec/vless.md §9.2: choosing the fallback entry.

#include "worker/proxy/fallback/table.h"

#include <gtest/gtest.h>

#include "tests/unit/worker/proxy/test_bytes.h"

namespace xsup::worker::proxy::fallback {
namespace {

using testing::ascii;

config::Fallback entry(std::string name, std::string alpn, std::string path, std::uint16_t port) {
  config::Fallback fb;
  fb.name = std::move(name);
  fb.alpn = std::move(alpn);
  fb.path = std::move(path);
  fb.tcp.port = port;
  return fb;
}

std::uint16_t port_of(const config::Fallback* fb) { return fb == nullptr ? 0 : fb->tcp.port; }

TEST(FallbackPath, RequestLine) {
  EXPECT_EQ(request_path(ascii("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")), "/x");
  EXPECT_EQ(request_path(ascii("GET /ws?ed=2048 HTTP/1.1\r\n\r\n")), "/ws");
  EXPECT_EQ(request_path(ascii("OPTIONS /p HTTP/1.1\r\n\r\n")), "/p");
  EXPECT_EQ(request_path(ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), "");
  EXPECT_EQ(request_path(ascii("GET /x")), "");                          // under 18 bytes
  EXPECT_EQ(request_path(ascii("GET /abcdefgh\r\n HTTP/1.1 ...")), "");  // CR ends the scan
  EXPECT_EQ(request_path(ascii("GET /" + std::string(80, 'a') + " HTTP/1.1")), "");
  EXPECT_EQ(request_path(ascii("ABCDEFGHIJ /a HTTP/1.1\r\n")), "");  // no '/' at 4..8
}

TEST(FallbackTable, DefaultOnly) {
  FallbackTable table({entry("", "", "", 80)});
  EXPECT_EQ(port_of(table.pick("", "", ascii("anything at all, 24 bytes"))), 80);
  EXPECT_EQ(port_of(table.pick("", "", ascii("short"))), 80);
  EXPECT_EQ(port_of(table.pick("example.com", "h2", {})), 80);
}

TEST(FallbackTable, ByPath) {
  FallbackTable table({entry("", "", "", 80), entry("", "", "/ws", 81), entry("", "", "/api", 82)});
  EXPECT_EQ(port_of(table.pick("", "", ascii("GET /ws HTTP/1.1\r\nHost: a\r\n\r\n"))), 81);
  EXPECT_EQ(port_of(table.pick("", "", ascii("POST /api?x=1 HTTP/1.1\r\n\r\n"))), 82);
  EXPECT_EQ(port_of(table.pick("", "", ascii("GET /other HTTP/1.1\r\n\r\n"))), 80);
  EXPECT_EQ(port_of(table.pick("", "", ascii("GET /ws"))), 80);  // under 18 bytes
}

TEST(FallbackTable, PathWithoutDefaultDrops) {
  FallbackTable table({entry("", "", "/ws", 81)});
  EXPECT_EQ(port_of(table.pick("", "", ascii("GET /ws HTTP/1.1\r\n\r\n"))), 81);
  EXPECT_EQ(table.pick("", "", ascii("GET /nope HTTP/1.1\r\n\r\n")), nullptr);
}

TEST(FallbackTable, ByAlpnWithDefaultsCopied) {
  FallbackTable table({entry("", "", "", 80), entry("", "h2", "", 82), entry("", "", "/ws", 81)});
  EXPECT_EQ(port_of(table.pick("", "h2", ascii("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))), 82);
  // The "" ALPN's paths are copied into "h2".
  EXPECT_EQ(port_of(table.pick("", "h2", ascii("GET /ws HTTP/1.1\r\n\r\n"))), 81);
  EXPECT_EQ(port_of(table.pick("", "http/1.1", ascii("GET /x HTTP/1.1\r\n\r\n"))), 80);
}

TEST(FallbackTable, ByNameSubstring) {
  FallbackTable table({entry("", "", "", 80), entry("example.com", "", "", 81),
                       entry("a.example.com", "", "", 82)});
  EXPECT_EQ(port_of(table.pick("example.com", "", {})), 81);
  EXPECT_EQ(port_of(table.pick("b.example.com", "", {})), 81);
  EXPECT_EQ(port_of(table.pick("xa.example.com", "", {})), 82);  // the longest substring
  EXPECT_EQ(port_of(table.pick("other.org", "", {})), 80);
  EXPECT_EQ(port_of(table.pick("", "", {})), 80);
}

TEST(FallbackTable, NameWithoutDefaultDrops) {
  FallbackTable table({entry("example.com", "", "", 81)});
  EXPECT_EQ(port_of(table.pick("www.example.com", "", {})), 81);
  EXPECT_EQ(table.pick("other.org", "", {}), nullptr);
  EXPECT_EQ(table.pick("", "", {}), nullptr);
}

}  // namespace
}  // namespace xsup::worker::proxy::fallback
