// The DNS codec against hand-built messages: query bytes as RFC 1035 §4.1 lays them out,
// responses with compression, CNAME chains, and malformed or hostile input.

#include "shared/dns/message.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string_view>
#include <vector>

namespace xsup::dns {
namespace {

using Bytes = std::vector<std::uint8_t>;

// A small writer for test messages.
struct Msg {
  Bytes b;
  Msg& u8(std::uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Msg& u16(std::uint16_t v) { return u8(static_cast<std::uint8_t>(v >> 8)).u8(v & 0xff); }
  Msg& u32(std::uint32_t v) { return u16(static_cast<std::uint16_t>(v >> 16)).u16(v & 0xffff); }
  // Uncompressed name, from "a.b.c".
  Msg& name(std::string_view text) {
    while (!text.empty()) {
      auto dot = text.find('.');
      auto label = text.substr(0, dot);
      u8(static_cast<std::uint8_t>(label.size()));
      b.insert(b.end(), label.begin(), label.end());
      if (dot == std::string_view::npos) break;
      text.remove_prefix(dot + 1);
    }
    return u8(0);
  }
  Msg& labels(std::string_view text) {  // labels without the terminating zero
    Msg tmp;
    tmp.name(text);
    b.insert(b.end(), tmp.b.begin(), tmp.b.end() - 1);
    return *this;
  }
  Msg& ptr(std::uint16_t offset) { return u16(static_cast<std::uint16_t>(0xC000 | offset)); }
  Msg& bytes(std::initializer_list<std::uint8_t> v) {
    b.insert(b.end(), v);
    return *this;
  }
  Msg& header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(0).u16(0);
  }
  // Owner already written; TYPE, CLASS IN, TTL, then RDATA of `rdlength` the caller writes.
  Msg& rr(std::uint16_t type, std::uint32_t ttl, std::uint16_t rdlength) {
    return u16(type).u16(1).u32(ttl).u16(rdlength);
  }
};

constexpr std::uint16_t kResponse = 0x8180;  // QR, RD, RA, NOERROR

TEST(DnsEncodeQuery, AWithEdnsMatchesRfcLayout) {
  auto q = encode_query({0x1234, "Example.COM.", QType::kA, true});
  ASSERT_TRUE(q);
  Bytes want = Msg{}
                   .header(0x1234, 0x0100, 1, 0)
                   .name("example.com")
                   .u16(1)
                   .u16(1)
                   // OPT: root, type 41, payload 1232, ttl 0, rdlength 0
                   .u8(0)
                   .u16(41)
                   .u16(1232)
                   .u32(0)
                   .u16(0)
                   .b;
  want[11] = 1;  // ARCOUNT
  EXPECT_EQ(*q, want);
}

TEST(DnsEncodeQuery, AaaaWithoutEdns) {
  auto q = encode_query({7, "a.b", QType::kAaaa, false});
  ASSERT_TRUE(q);
  EXPECT_EQ(*q, Msg{}.header(7, 0x0100, 1, 0).name("a.b").u16(28).u16(1).b);
}

TEST(DnsEncodeQuery, RejectsBadNames) {
  EXPECT_FALSE(encode_query({1, "", QType::kA, true}));
  EXPECT_FALSE(encode_query({1, ".", QType::kA, true}));
  EXPECT_FALSE(encode_query({1, "a..b", QType::kA, true}));
  EXPECT_FALSE(encode_query({1, ".a", QType::kA, true}));
  EXPECT_FALSE(encode_query({1, std::string(64, 'x') + ".com", QType::kA, true}));
  EXPECT_TRUE(encode_query({1, std::string(63, 'x') + ".com", QType::kA, true}));
  std::string long_name;
  for (int i = 0; i < 50; ++i) long_name += "abcd.";
  long_name += "com";  // 253 characters is the most that fits in 255 octets
  ASSERT_EQ(long_name.size(), 253u);
  EXPECT_TRUE(encode_query({1, long_name, QType::kA, true}));
  EXPECT_FALSE(encode_query({1, "x" + long_name, QType::kA, true}));
}

// example.com A 93.184.216.34 with the owner compressed to the question (offset 12).
Bytes simple_a() {
  return Msg{}
      .header(0xbeef, kResponse, 1, 1)
      .name("example.com")
      .u16(1)
      .u16(1)
      .ptr(12)
      .rr(1, 300, 4)
      .bytes({93, 184, 216, 34})
      .b;
}

TEST(DnsParseResponse, SimpleACompressed) {
  auto r = parse_response(simple_a());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->id, 0xbeef);
  EXPECT_EQ(r->rcode, Rcode::kNoError);
  EXPECT_FALSE(r->truncated);
  EXPECT_TRUE(r->has_question);
  EXPECT_EQ(r->question_name, "example.com");
  EXPECT_EQ(r->question_type, 1);
  ASSERT_EQ(r->addresses.size(), 1u);
  EXPECT_EQ(r->addresses[0], asio::ip::make_address("93.184.216.34"));
  EXPECT_EQ(r->min_ttl, 300u);
}

TEST(DnsParseResponse, AaaaAndCaseInsensitiveOwner) {
  auto bytes = Msg{}
                   .header(1, kResponse, 1, 2)
                   .name("Host.Example")
                   .u16(28)
                   .u16(1)
                   .name("HOST.example")
                   .rr(28, 60, 16)
                   .bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
                   // An A record in an AAAA answer is not what was asked: dropped.
                   .ptr(12)
                   .rr(1, 60, 4)
                   .bytes({1, 2, 3, 4})
                   .b;
  auto r = parse_response(bytes);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->question_name, "host.example");
  ASSERT_EQ(r->addresses.size(), 1u);
  EXPECT_EQ(r->addresses[0], asio::ip::make_address("2001:db8::1"));
}

TEST(DnsParseResponse, FollowsCnameChainAndIgnoresStrangers) {
  // www.example.com CNAME a.example.net; a.example.net CNAME b.example.net;
  // b.example.net A 10.0.0.2 and 10.0.0.3; evil.test A 6.6.6.6 (not on the chain).
  Msg m;
  m.header(9, kResponse, 1, 5).name("www.example.com").u16(1).u16(1);
  // Answer 1: owner -> question, target "a.example.net" written out (offset recorded).
  m.ptr(12).rr(5, 3600, 15);
  const std::uint16_t a_at = static_cast<std::uint16_t>(m.b.size());
  m.name("a.example.net");
  // Answer 2: owner -> a.example.net, target "b" + pointer to "example.net".
  m.ptr(a_at).rr(5, 120, 4);
  const std::uint16_t b_at = static_cast<std::uint16_t>(m.b.size());
  m.labels("b").ptr(a_at + 2);
  m.ptr(b_at).rr(1, 500, 4).bytes({10, 0, 0, 2});
  m.ptr(b_at).rr(1, 400, 4).bytes({10, 0, 0, 3});
  m.name("evil.test").rr(1, 1, 4).bytes({6, 6, 6, 6});
  auto r = parse_response(m.b);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->addresses.size(), 2u);
  EXPECT_EQ(r->addresses[0], asio::ip::make_address("10.0.0.2"));
  EXPECT_EQ(r->addresses[1], asio::ip::make_address("10.0.0.3"));
  EXPECT_EQ(r->min_ttl, 120u);  // the shortest link of the chain bounds the answer
}

TEST(DnsParseResponse, CnameLoopEndsWithNothing) {
  Msg m;
  m.header(9, kResponse, 1, 2).name("a.test").u16(1).u16(1);
  m.ptr(12).rr(5, 60, 8);
  const std::uint16_t b_at = static_cast<std::uint16_t>(m.b.size());
  m.name("b.test");
  m.ptr(b_at).rr(5, 60, 2).ptr(12);
  auto r = parse_response(m.b);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->addresses.empty());
  EXPECT_EQ(r->min_ttl, 0u);
}

TEST(DnsParseResponse, NxDomainServFailAndTruncated) {
  auto nx = parse_response(Msg{}.header(2, 0x8183, 1, 0).name("nope.test").u16(1).u16(1).b);
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->rcode, Rcode::kNxDomain);
  EXPECT_TRUE(nx->addresses.empty());

  // Some servers drop the question from an error reply.
  auto servfail = parse_response(Msg{}.header(3, 0x8182, 0, 0).b);
  ASSERT_TRUE(servfail);
  EXPECT_EQ(servfail->rcode, Rcode::kServFail);
  EXPECT_FALSE(servfail->has_question);

  auto tc = parse_response(Msg{}.header(4, 0x8380, 1, 0).name("big.test").u16(1).u16(1).b);
  ASSERT_TRUE(tc);
  EXPECT_TRUE(tc->truncated);
}

TEST(DnsParseResponse, TtlWithTopBitIsZero) {
  auto bytes = simple_a();
  bytes[bytes.size() - 10] = 0x80;  // TTL's first octet
  auto r = parse_response(bytes);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->min_ttl, 0u);
}

TEST(DnsParseResponse, EveryTruncationIsAnError) {
  const auto full = simple_a();
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(parse_response(std::span(full.data(), n))) << "prefix of " << n;
  }
}

TEST(DnsParseResponse, RejectsMalformed) {
  // A query, not a response.
  EXPECT_FALSE(parse_response(Msg{}.header(1, 0x0100, 1, 0).name("a.test").u16(1).u16(1).b));
  // Two questions.
  EXPECT_FALSE(parse_response(Msg{}.header(1, kResponse, 2, 0).name("a").u16(1).u16(1).b));
  // Reserved label type 0x40.
  EXPECT_FALSE(
      parse_response(Msg{}.header(1, kResponse, 1, 0).u8(0x41).u8('a').u8(0).u16(1).u16(1).b));
  // A record with the wrong RDLENGTH.
  EXPECT_FALSE(parse_response(Msg{}
                                  .header(1, kResponse, 1, 1)
                                  .name("a")
                                  .u16(1)
                                  .u16(1)
                                  .ptr(12)
                                  .rr(1, 1, 3)
                                  .bytes({1, 2, 3})
                                  .b));
  // RDLENGTH past the end.
  EXPECT_FALSE(parse_response(Msg{}
                                  .header(1, kResponse, 1, 1)
                                  .name("a")
                                  .u16(1)
                                  .u16(1)
                                  .ptr(12)
                                  .rr(1, 1, 4)
                                  .bytes({1, 2})
                                  .b));
  // A pointer past the end of the message.
  EXPECT_FALSE(parse_response(Msg{}.header(1, kResponse, 1, 0).ptr(400).u16(1).u16(1).b));
  // A CNAME whose target runs past its RDATA.
  EXPECT_FALSE(parse_response(Msg{}
                                  .header(1, kResponse, 1, 1)
                                  .name("a")
                                  .u16(1)
                                  .u16(1)
                                  .ptr(12)
                                  .rr(5, 1, 2)
                                  .labels("bb")
                                  .u8(0)
                                  .b));
}

TEST(DnsParseResponse, PointerLoopsAreBounded) {
  // The question name points at itself.
  EXPECT_FALSE(parse_response(Msg{}.header(1, kResponse, 1, 0).ptr(12).u16(1).u16(1).b));
  // Two pointers pointing at each other: 12 -> 14 -> 12.
  EXPECT_FALSE(parse_response(Msg{}.header(1, kResponse, 1, 0).ptr(14).ptr(12).u16(1).u16(1).b));
  // A label then a pointer back to it: the name grows until the length bound stops it.
  EXPECT_FALSE(
      parse_response(Msg{}.header(1, kResponse, 1, 0).labels("abc").ptr(12).u16(1).u16(1).b));
}

TEST(DnsParseResponse, NameTooLongIsRejected) {
  Msg m;
  m.header(1, kResponse, 1, 0);
  for (int i = 0; i < 5; ++i) m.labels(std::string(63, 'a'));  // 320 octets
  m.u8(0).u16(1).u16(1);
  EXPECT_FALSE(parse_response(m.b));
}

TEST(DnsParseResponse, RandomBytesNeverCrash) {
  std::mt19937 rng(1035);
  const auto base = simple_a();
  for (int i = 0; i < 20000; ++i) {
    Bytes b = base;
    const int flips = 1 + static_cast<int>(rng() % 6);
    for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
    b.resize(rng() % (b.size() + 1));
    (void)parse_response(b);
  }
}

TEST(DnsNormalizeName, LowerCaseWithoutFinalDot) {
  EXPECT_EQ(normalize_name("WWW.Example.COM."), "www.example.com");
  EXPECT_EQ(normalize_name("a"), "a");
  EXPECT_EQ(normalize_name("."), "");
}

}  // namespace
}  // namespace xsup::dns
