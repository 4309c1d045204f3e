#include "worker/proxy/socks/codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xsup::worker::proxy::socks {
namespace {

using base::Errc;
using Bytes8 = std::vector<std::uint8_t>;

Bytes8 bytes(std::initializer_list<int> values) {
  Bytes8 out;
  for (int v : values) out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

Bytes8 concat(std::initializer_list<Bytes8> parts) {
  Bytes8 out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

template <std::size_t N>
Bytes8 to_vec(const Bytes<N>& b) {
  auto s = b.span();
  return {s.begin(), s.end()};
}

// ---- greeting ------------------------------------------------------------------------------

TEST(SocksCodec, GreetingNoAuth) {
  auto in = bytes({0x05, 0x01, 0x00});
  auto g = parse_greeting(in);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->consumed, 3u);
  EXPECT_TRUE(g->value.offers(kMethodNoAuth));
  EXPECT_FALSE(g->value.offers(kMethodPassword));
}

TEST(SocksCodec, GreetingSeveralMethods) {
  auto in = bytes({0x05, 0x02, 0x00, 0x02, 0xAA});  // trailing byte belongs to the next message
  auto g = parse_greeting(in);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->consumed, 4u);
  EXPECT_TRUE(g->value.offers(kMethodNoAuth));
  EXPECT_TRUE(g->value.offers(kMethodPassword));
}

TEST(SocksCodec, GreetingMalformed) {
  EXPECT_TRUE(parse_greeting(bytes({0x04, 0x01, 0x00})).error().is(Errc::kProtocol));
  EXPECT_TRUE(parse_greeting(bytes({0x05, 0x00})).error().is(Errc::kProtocol));
  EXPECT_TRUE(parse_greeting(bytes({})).error().is(Errc::kNeedMore));
  EXPECT_TRUE(parse_greeting(bytes({0x05})).error().is(Errc::kNeedMore));
  EXPECT_TRUE(parse_greeting(bytes({0x05, 0x02, 0x00})).error().is(Errc::kNeedMore));
}

TEST(SocksCodec, MethodChoiceAndAuthStatus) {
  EXPECT_EQ(to_vec(encode_method_choice(kMethodPassword)), bytes({0x05, 0x02}));
  EXPECT_EQ(to_vec(encode_method_choice(kMethodNoAcceptable)), bytes({0x05, 0xFF}));
  EXPECT_EQ(to_vec(encode_auth_status(true)), bytes({0x01, 0x00}));
  EXPECT_EQ(to_vec(encode_auth_status(false)), bytes({0x01, 0x01}));
}

// ---- RFC 1929 ------------------------------------------------------------------------------

TEST(SocksCodec, Credentials) {
  auto in = bytes({0x01, 0x04, 'u', 's', 'e', 'r', 0x04, 'p', 'a', 's', 's'});
  auto c = parse_credentials(in);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->consumed, in.size());
  EXPECT_EQ(c->value.user, "user");
  EXPECT_EQ(c->value.pass, "pass");
  for (std::size_t n = 0; n < in.size(); ++n) {
    auto part = parse_credentials(std::span(in).first(n));
    EXPECT_TRUE(part.error().is(Errc::kNeedMore)) << n;
  }
  EXPECT_TRUE(parse_credentials(bytes({0x05, 0x01, 'u', 0x01, 'p'})).error().is(Errc::kProtocol));
}

TEST(SocksCodec, CredentialsLongestFields) {
  std::string user(255, 'u');
  std::string pass(255, 'p');
  auto enc = encode_credentials(user, pass);
  ASSERT_TRUE(enc);
  EXPECT_EQ(enc->size, 3u + 255 + 255);
  auto c = parse_credentials(enc->span());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->value.user, user);
  EXPECT_EQ(c->value.pass, pass);
  EXPECT_FALSE(encode_credentials(std::string(256, 'u'), "p"));
}

// ---- SOCKS5 request ------------------------------------------------------------------------

TEST(SocksCodec, RequestConnectIpv4) {
  // CONNECT 127.0.0.1:80
  auto in = bytes({0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x00, 0x50});
  auto r = parse_request(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, in.size());
  EXPECT_EQ(r->value.command, Command::kConnect);
  EXPECT_EQ(r->value.address.to_string(), "127.0.0.1");
  EXPECT_EQ(r->value.port, 80);
}

TEST(SocksCodec, RequestConnectDomain) {
  auto in = bytes({0x05, 0x01, 0x00, 0x03, 11, 'E', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o',
                   'm', 0x01, 0xBB});
  auto r = parse_request(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, in.size());
  ASSERT_TRUE(r->value.address.is_domain());
  EXPECT_EQ(r->value.address.domain(), "example.com");
  EXPECT_EQ(r->value.port, 443);
}

TEST(SocksCodec, RequestDomainThatIsAnIp) {
  auto in = bytes({0x05, 0x01, 0x00, 0x03, 3, ':', ':', '1', 0x00, 0x35});
  auto r = parse_request(in);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->value.address.is_ip());
  EXPECT_EQ(r->value.address.to_string(), "::1");
}

TEST(SocksCodec, RequestUdpAssociateIpv6) {
  auto in = bytes({0x05, 0x03, 0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,
                   0,    0,    0,    0,    0,    0,    0,    0,    1, 0x1F, 0x90});
  auto r = parse_request(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value.command, Command::kUdpAssociate);
  EXPECT_EQ(r->value.address.to_string(), "2001:db8::1");
  EXPECT_EQ(r->value.port, 8080);
}

TEST(SocksCodec, RequestOtherCommandsParse) {
  for (int cmd : {0x02, 0xF0, 0xF1, 0x09}) {
    auto r = parse_request(bytes({0x05, cmd, 0x00, 0x01, 10, 0, 0, 1, 0, 1}));
    ASSERT_TRUE(r) << cmd;
    EXPECT_EQ(static_cast<int>(r->value.command), cmd);
  }
}

TEST(SocksCodec, RequestMalformed) {
  EXPECT_TRUE(parse_request(bytes({0x04, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0, 80}))
                  .error()
                  .is(Errc::kProtocol));
  EXPECT_TRUE(
      parse_request(bytes({0x05, 0x01, 0x00, 0x03, 0x00, 0, 80})).error().is(Errc::kProtocol));
  EXPECT_TRUE(parse_request(bytes({0x05, 0x01, 0x00, 0x02, 1, 2, 3, 4, 0, 80}))
                  .error()
                  .is(Errc::kProtocol));
  EXPECT_TRUE(
      parse_request(bytes({0x05, 0x01, 0x00, 0x03, 2, 'a', 0, 0, 80})).error().is(Errc::kProtocol));
  auto full = bytes({0x05, 0x01, 0x00, 0x01, 1, 2, 3, 4, 0, 80});
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_TRUE(parse_request(std::span(full).first(n)).error().is(Errc::kNeedMore)) << n;
  }
}

TEST(SocksCodec, LongestDomainRoundTrips) {
  auto name = net::Address::domain(std::string(255, 'a'));
  auto enc = encode_request(Command::kConnect, name, 443);
  ASSERT_TRUE(enc);
  EXPECT_EQ(enc->size, 3u + 1 + 1 + 255 + 2);
  auto r = parse_request(enc->span());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value.address, name);
  EXPECT_FALSE(encode_request(Command::kConnect, net::Address::domain(std::string(256, 'a')), 1));
  EXPECT_FALSE(encode_request(Command::kConnect, net::Address::domain(""), 1));
}

TEST(SocksCodec, Reply) {
  auto ok = encode_reply(Reply::kSucceeded, net::Address::parse("10.0.0.1"), 1080);
  ASSERT_TRUE(ok);
  EXPECT_EQ(to_vec(*ok), bytes({0x05, 0x00, 0x00, 0x01, 10, 0, 0, 1, 0x04, 0x38}));
  auto v6 = encode_reply(Reply::kCommandNotSupported, net::Address::parse("::"), 0);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->size, 3u + 1 + 16 + 2);
  EXPECT_EQ(v6->data[1], 0x07);

  auto parsed = parse_reply(ok->span());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->consumed, ok->size);
  EXPECT_EQ(parsed->value.reply, Reply::kSucceeded);
  EXPECT_EQ(parsed->value.address.to_string(), "10.0.0.1");
  EXPECT_EQ(parsed->value.port, 1080);
  for (std::size_t n = 0; n < ok->size; ++n) {
    EXPECT_TRUE(parse_reply(ok->span().first(n)).error().is(Errc::kNeedMore)) << n;
  }
  EXPECT_TRUE(parse_reply(bytes({0x01, 0x00, 0x00, 0x01})).error().is(Errc::kProtocol));
}

// ---- SOCKS4 / 4a ---------------------------------------------------------------------------

TEST(SocksCodec, Socks4Connect) {
  // CONNECT 198.51.100.7:80, user "fred" (the example of the SOCKS4 protocol document)
  auto in = bytes({0x04, 0x01, 0x00, 0x50, 198, 51, 100, 7, 'f', 'r', 'e', 'd', 0x00});
  auto r = parse_request4(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, in.size());
  EXPECT_EQ(r->value.command, 1);
  EXPECT_EQ(r->value.port, 80);
  EXPECT_EQ(r->value.address.to_string(), "198.51.100.7");
  EXPECT_EQ(r->value.user_id, "fred");
  for (std::size_t n = 0; n < in.size(); ++n) {
    EXPECT_TRUE(parse_request4(std::span(in).first(n)).error().is(Errc::kNeedMore)) << n;
  }
}

TEST(SocksCodec, Socks4aDomain) {
  auto in = bytes({0x04, 0x01, 0x01, 0xBB, 0, 0, 0, 1, 0x00, 'a', '.', 'b', 'c', 0x00, 0x42});
  auto r = parse_request4(in);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, in.size() - 1);
  ASSERT_TRUE(r->value.address.is_domain());
  EXPECT_EQ(r->value.address.domain(), "a.bc");
  EXPECT_EQ(r->value.port, 443);
  EXPECT_EQ(r->value.user_id, "");
  for (std::size_t n = 0; n + 1 < in.size(); ++n) {
    EXPECT_TRUE(parse_request4(std::span(in).first(n)).error().is(Errc::kNeedMore)) << n;
  }
}

TEST(SocksCodec, Socks4ZeroIpIsNot4a) {
  // 0.0.0.0 is not the SOCKS4a marker: x must be non-zero.
  auto r = parse_request4(bytes({0x04, 0x01, 0x00, 0x50, 0, 0, 0, 0, 0x00}));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->value.address.is_ip());
}

TEST(SocksCodec, Socks4Malformed) {
  Bytes8 user_id_too_long = concat({bytes({0x04, 0x01, 0x00, 0x50, 1, 2, 3, 4}), Bytes8(256, 'x')});
  EXPECT_TRUE(parse_request4(user_id_too_long).error().is(Errc::kProtocol));
  Bytes8 longest = concat({bytes({0x04, 0x01, 0x00, 0x50, 1, 2, 3, 4}), Bytes8(255, 'x'), {0}});
  EXPECT_TRUE(parse_request4(longest));
  EXPECT_TRUE(parse_request4(bytes({0x04, 0x01, 0x00, 0x50, 0, 0, 0, 9, 0x00, 0x00}))
                  .error()
                  .is(Errc::kProtocol));  // empty 4a domain
  Bytes8 domain_too_long =
      concat({bytes({0x04, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0x00}), Bytes8(256, 'd')});
  EXPECT_TRUE(parse_request4(domain_too_long).error().is(Errc::kProtocol));
  EXPECT_TRUE(parse_request4(bytes({0x05, 0x01})).error().is(Errc::kProtocol));
}

TEST(SocksCodec, Socks4Reply) {
  EXPECT_EQ(to_vec(encode_reply4(true, 80, asio::ip::make_address_v4("1.2.3.4"))),
            bytes({0x00, 0x5A, 0x00, 0x50, 1, 2, 3, 4}));
  EXPECT_EQ(to_vec(encode_reply4(false, 0, asio::ip::address_v4::any())),
            bytes({0x00, 0x5B, 0, 0, 0, 0, 0, 0}));
}

// ---- pipelining ----------------------------------------------------------------------------

// Greeting, credentials and request in one segment, as v2ray's client sends them: every
// split point before the end of a message says kNeedMore, and each message consumes
// exactly its own bytes.
TEST(SocksCodec, PipelinedHandshakeEverySplit) {
  Bytes8 greeting = bytes({0x05, 0x01, 0x02});
  Bytes8 creds = bytes({0x01, 0x01, 'u', 0x02, 'p', 'w'});
  Bytes8 request = bytes({0x05, 0x01, 0x00, 0x03, 0x01, 'h', 0x00, 0x50});
  Bytes8 all = concat({greeting, creds, request, bytes({'G', 'E', 'T'})});

  for (std::size_t n = 0; n <= all.size(); ++n) {
    std::span<const std::uint8_t> in(all.data(), n);
    auto g = parse_greeting(in);
    if (n < greeting.size()) {
      EXPECT_TRUE(g.error().is(Errc::kNeedMore)) << n;
      continue;
    }
    ASSERT_TRUE(g) << n;
    ASSERT_EQ(g->consumed, greeting.size());
    in = in.subspan(g->consumed);
    auto c = parse_credentials(in);
    if (n < greeting.size() + creds.size()) {
      EXPECT_TRUE(c.error().is(Errc::kNeedMore)) << n;
      continue;
    }
    ASSERT_TRUE(c) << n;
    ASSERT_EQ(c->consumed, creds.size());
    EXPECT_EQ(c->value.user, "u");
    EXPECT_EQ(c->value.pass, "pw");
    in = in.subspan(c->consumed);
    auto r = parse_request(in);
    if (n < greeting.size() + creds.size() + request.size()) {
      EXPECT_TRUE(r.error().is(Errc::kNeedMore)) << n;
      continue;
    }
    ASSERT_TRUE(r) << n;
    ASSERT_EQ(r->consumed, request.size());
    EXPECT_EQ(r->value.address.domain(), "h");
    EXPECT_EQ(in.size() - r->consumed, n - greeting.size() - creds.size() - request.size());
  }
}

// ---- UDP -----------------------------------------------------------------------------------

TEST(SocksCodec, UdpHeader) {
  auto in = bytes({0x00, 0x00, 0x00, 0x01, 8, 8, 8, 8, 0x00, 0x35, 'q', 'u', 'e', 'r', 'y'});
  auto h = parse_udp_header(in);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->consumed, 10u);
  EXPECT_EQ(h->value.network, net::Network::kUdp);
  EXPECT_EQ(h->value.host_port(), "8.8.8.8:53");

  EXPECT_TRUE(parse_udp_header(bytes({0x00, 0x00, 0x01, 0x01, 8, 8, 8, 8, 0x00, 0x35}))
                  .error()
                  .is(Errc::kProtocol));  // FRAG != 0
  EXPECT_FALSE(parse_udp_header(bytes({0x00, 0x00, 0x00, 0x01, 8, 8})));
}

TEST(SocksCodec, UdpHeaderEncode) {
  std::array<std::uint8_t, kMaxUdpHeaderSize> out{};
  auto v4 = net::Address::parse("1.2.3.4");
  EXPECT_EQ(udp_header_size(v4), 10u);
  ASSERT_EQ(encode_udp_header(v4, 53, out), 10u);
  EXPECT_EQ(Bytes8(out.begin(), out.begin() + 10),
            bytes({0x00, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0x00, 0x35}));
  auto v6 = net::Address::parse("::1");
  EXPECT_EQ(encode_udp_header(v6, 53, out), 22u);
  auto h = parse_udp_header(std::span(out).first(22));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->value.address, v6);
  auto name = net::Address::domain("example.org");
  EXPECT_EQ(encode_udp_header(name, 53, out), 3u + 1 + 1 + 11 + 2);
  EXPECT_EQ(encode_udp_header(name, 53, std::span(out).first(5)), 0u);
}

// ---- client side ---------------------------------------------------------------------------

TEST(SocksCodec, ClientMessages) {
  EXPECT_EQ(to_vec(encode_greeting(kMethodNoAuth)), bytes({0x05, 0x01, 0x00}));
  auto req = encode_request(Command::kConnect, net::Address::domain("example.com"), 443);
  ASSERT_TRUE(req);
  EXPECT_EQ(to_vec(*req), bytes({0x05, 0x01, 0x00, 0x03, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.',
                                 'c', 'o', 'm', 0x01, 0xBB}));
  auto m = parse_method_choice(bytes({0x05, 0x02}));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->value, kMethodPassword);
  EXPECT_TRUE(parse_method_choice(bytes({0x05})).error().is(Errc::kNeedMore));
  EXPECT_TRUE(parse_method_choice(bytes({0x04, 0x00})).error().is(Errc::kProtocol));
  auto s = parse_auth_status(bytes({0x01, 0x00}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->value, 0);
  EXPECT_TRUE(parse_auth_status(bytes({0x05, 0x00})).error().is(Errc::kProtocol));
}

}  // namespace
}  // namespace xsup::worker::proxy::socks
