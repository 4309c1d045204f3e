#include "worker/proxy/http/codec.h"

#include <gtest/gtest.h>

#include <string>

namespace xsup::worker::proxy::http {
namespace {

using base::Errc;
using Kind = BodyFraming::Kind;

constexpr std::string_view kAbsolute =
    "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "User-Agent: curl/8.0\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "Accept:*/*\r\n"
    "\r\n";

TEST(HttpCodec, ParsesAbsoluteFormRequest) {
  auto head = parse_request_head(kAbsolute);
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->method, "GET");
  EXPECT_EQ(head->target, "http://example.com:8080/a/b?c=d");
  EXPECT_EQ(head->minor, 1);
  EXPECT_EQ(head->size, kAbsolute.size());
  ASSERT_EQ(head->headers.size(), 4u);
  EXPECT_EQ(head->headers[3].name, "Accept");
  EXPECT_EQ(head->headers[3].value, "*/*");
  EXPECT_EQ(find_header(head->headers, "user-agent"), "curl/8.0");
  EXPECT_TRUE(has_token(head->headers, "proxy-connection", "keep-alive"));

  auto target = parse_request_target(*head);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->form, TargetForm::kAbsolute);
  EXPECT_EQ(target->authority, "example.com:8080");
  EXPECT_EQ(target->path, "/a/b?c=d");
  auto dest = parse_authority(target->authority, 80);
  ASSERT_TRUE(dest);
  EXPECT_EQ(dest->host_port(), "example.com:8080");
}

TEST(HttpCodec, ParsesConnectRequest) {
  constexpr std::string_view kConnect =
      "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\nTLSDATA";
  auto head = parse_request_head(kConnect);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->size, kConnect.size() - 7);
  auto target = parse_request_target(*head);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->form, TargetForm::kAuthority);
  auto dest = parse_authority(target->authority, 0);
  ASSERT_TRUE(dest);
  EXPECT_TRUE(dest->address.is_ip());
  EXPECT_EQ(dest->port, 443);
  EXPECT_EQ(dest->host_port(), "[2001:db8::1]:443");
}

TEST(HttpCodec, ConnectTargetMustBeAuthority) {
  auto head = parse_request_head("CONNECT http://a/ HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(head);
  EXPECT_FALSE(parse_request_target(*head));
}

TEST(HttpCodec, ParsesOriginFormRequest) {
  auto head = parse_request_head("\r\nPOST /upload HTTP/1.0\r\nHost: internal\r\n\r\n");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->minor, 0);
  auto target = parse_request_target(*head);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->form, TargetForm::kOrigin);
  EXPECT_EQ(target->path, "/upload");
  auto dest = parse_authority(*find_header(head->headers, "host"), 80);
  ASSERT_TRUE(dest);
  EXPECT_EQ(dest->host_port(), "internal:80");
}

TEST(HttpCodec, AbsoluteUriEdgeCases) {
  auto target_of = [](std::string_view line) {
    static std::string storage;
    storage = std::string(line);
    auto head = parse_request_head(storage);
    EXPECT_TRUE(head);
    return parse_request_target(*head);
  };
  auto t = target_of("GET HTTP://Example.com HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->authority, "Example.com");
  EXPECT_EQ(t->path, "");
  t = target_of("GET http://a.b?x=1#frag HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "?x=1");
  EXPECT_TRUE(target_of("GET https://a.b/ HTTP/1.1\r\n\r\n").error().is(Errc::kUnsupported));
  EXPECT_FALSE(target_of("GET http://user@a.b/ HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(target_of("GET http:///x HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(target_of("GET a.b/x HTTP/1.1\r\n\r\n"));
}

TEST(HttpCodec, AuthorityParsing) {
  EXPECT_EQ(parse_authority("a.b", 80)->port, 80);
  EXPECT_EQ(parse_authority("a.b:", 80)->port, 80);
  EXPECT_EQ(parse_authority("1.2.3.4:81", 80)->host_port(), "1.2.3.4:81");
  EXPECT_EQ(parse_authority("[::1]", 80)->host_port(), "[::1]:80");
  EXPECT_FALSE(parse_authority("a.b:0", 80));
  EXPECT_FALSE(parse_authority("a.b:65536", 80));
  EXPECT_FALSE(parse_authority("a.b:+1", 80));
  EXPECT_FALSE(parse_authority(":80", 80));
  EXPECT_FALSE(parse_authority("[nothex]:80", 80));
  EXPECT_FALSE(parse_authority("[::1:80", 80));
  EXPECT_FALSE(parse_authority("a b:80", 80));
  EXPECT_FALSE(parse_authority("a:b:c", 80));
}

// Every proper prefix of a valid head is a valid incomplete head.
TEST(HttpCodec, EverySplitPointNeedsMore) {
  for (std::string_view full :
       {kAbsolute, std::string_view("\r\n\r\nGET / HTTP/1.0\r\nHost: x\r\n\r\n")}) {
    for (std::size_t n = 0; n < full.size(); ++n) {
      auto head = parse_request_head(full.substr(0, n));
      ASSERT_FALSE(head) << n;
      EXPECT_TRUE(head.error().is(Errc::kNeedMore)) << n << " " << head.error().message();
    }
    EXPECT_TRUE(parse_request_head(full));
  }
  constexpr std::string_view kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
  for (std::size_t n = 0; n < kResponse.size(); ++n) {
    auto head = parse_response_head(kResponse.substr(0, n), 1024);
    ASSERT_FALSE(head);
    EXPECT_TRUE(head.error().is(Errc::kNeedMore)) << n;
  }
}

TEST(HttpCodec, OversizedHeadIsTooLarge) {
  std::string head = "GET / HTTP/1.1\r\nX: " + std::string(kMaxRequestHead, 'a');
  auto r = parse_request_head(head);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::kTooLarge));
  // Complete, but past the limit.
  r = parse_request_head(head + "\r\n\r\n");
  EXPECT_TRUE(r.error().is(Errc::kTooLarge));
  // Exactly at the limit is fine.
  std::string exact = "GET / HTTP/1.1\r\nX: ";
  exact += std::string(kMaxRequestHead - exact.size() - 4, 'a') + "\r\n\r\n";
  EXPECT_TRUE(parse_request_head(exact));

  std::string many = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i <= kMaxRequestHeaders; ++i) many += "A: b\r\n";
  many += "\r\n";
  r = parse_request_head(many);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::kTooLarge));
}

TEST(HttpCodec, MalformedRequestsAreRefused) {
  for (std::string_view bad : {
           std::string_view("GET / HTTP/1.1\r\nHost : x\r\n\r\n"),            // space before colon
           std::string_view("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"),  // obs-fold
           std::string_view("GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
           std::string_view("GET / HTTP/1.1\r\n: empty\r\n\r\n"),
           std::string_view("GET / HTTP/1.1\nHost: x\n\n"),      // bare LF
           std::string_view("GET / HTTP/1.1\rHost: x\r\n\r\n"),  // bare CR
           std::string_view("GET  / HTTP/1.1\r\n\r\n"),
           std::string_view("GET /\x01 HTTP/1.1\r\n\r\n"),
           std::string_view("G(T / HTTP/1.1\r\n\r\n"),
           std::string_view("GET / HTTP/1.1 \r\n\r\n"),
           std::string_view("GET / HTTP/1\r\n\r\n"),
           std::string_view("GET /\r\n\r\n"),
           std::string_view("GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 28),
       }) {
    auto r = parse_request_head(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_FALSE(r.error().is(Errc::kNeedMore)) << bad;
  }
  EXPECT_TRUE(parse_request_head("GET / HTTP/2.0\r\n\r\n").error().is(Errc::kUnsupported));
  // Garbage is refused at once, not after 16 KiB.
  auto tls = parse_request_head(std::string_view("\x16\x03\x01\x02\x00", 5));
  EXPECT_TRUE(tls.error().is(Errc::kProtocol));
}

TEST(HttpCodec, ResponseHeads) {
  auto r = parse_response_head("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 1024);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 100);
  EXPECT_EQ(r->reason, "Continue");
  EXPECT_EQ(r->size, 25u);
  auto f = response_body_framing(*r, "GET");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, Kind::kNone);

  r = parse_response_head("HTTP/1.0 404\r\nServer: x\r\n\r\n", 1024);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->minor, 0);
  EXPECT_EQ(r->reason, "");
  EXPECT_EQ(response_body_framing(*r, "GET")->kind, Kind::kUntilClose);

  EXPECT_FALSE(parse_response_head("HTTP/1.1 20 OK\r\n\r\n", 1024));
  EXPECT_FALSE(parse_response_head("HTTP/1.1 2000 OK\r\n\r\n", 1024));
  EXPECT_FALSE(parse_response_head("ICY 200 OK\r\n\r\n", 1024));
  EXPECT_TRUE(parse_response_head("HTTP/1.1 200 OK\r\nA: b\r\n", 10).error().is(Errc::kTooLarge));
}

TEST(HttpCodec, RequestFraming) {
  auto framing = [](std::string_view text) {
    static std::string storage;
    storage = std::string(text);
    auto head = parse_request_head(storage);
    EXPECT_TRUE(head);
    return request_body_framing(*head);
  };
  EXPECT_EQ(framing("GET / HTTP/1.1\r\n\r\n")->kind, Kind::kNone);
  auto f = framing("POST / HTTP/1.1\r\nContent-Length: 42\r\n\r\n");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, Kind::kLength);
  EXPECT_EQ(f->length, 42u);
  EXPECT_EQ(
      framing("POST / HTTP/1.1\r\nContent-Length: 42, 42\r\nContent-Length: 42\r\n\r\n")->length,
      42u);
  EXPECT_EQ(framing("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n")->kind,
            Kind::kChunked);
  EXPECT_FALSE(framing("POST / HTTP/1.1\r\nContent-Length: 4, 5\r\n\r\n"));
  EXPECT_FALSE(framing("POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n"));
  EXPECT_FALSE(framing("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"));
  EXPECT_FALSE(framing("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"));
  EXPECT_FALSE(framing("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"));
  EXPECT_FALSE(framing("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"));
  EXPECT_FALSE(
      framing("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"));
  EXPECT_FALSE(framing("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"));
  EXPECT_FALSE(framing("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"));
  EXPECT_FALSE(framing("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"));
}

TEST(HttpCodec, ResponseFraming) {
  auto framing = [](std::string_view text, std::string_view method) {
    static std::string storage;
    storage = std::string(text);
    auto head = parse_response_head(storage, 4096);
    EXPECT_TRUE(head);
    return response_body_framing(*head, method);
  };
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD")->kind, Kind::kNone);
  EXPECT_EQ(framing("HTTP/1.1 204 No Content\r\n\r\n", "GET")->kind, Kind::kNone);
  EXPECT_EQ(framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", "GET")->kind,
            Kind::kNone);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET")->kind, Kind::kNone);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET")->length, 5u);
  EXPECT_EQ(
      framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "GET")
          ->kind,
      Kind::kChunked);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET")->kind,
            Kind::kUntilClose);
  EXPECT_EQ(framing("HTTP/1.1 200 OK\r\n\r\n", "GET")->kind, Kind::kUntilClose);
  EXPECT_FALSE(framing("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "GET"));
}

// Feeds `body` to a decoder in pieces of `step` bytes; returns the bytes consumed in all.
Expected<std::size_t> decode_chunked(std::string_view body, std::size_t step) {
  ChunkedDecoder decoder;
  std::size_t consumed = 0;
  while (consumed < body.size() && !decoder.done()) {
    std::size_t n = std::min(step, body.size() - consumed);
    auto r = decoder.feed(body.substr(consumed, n));
    if (!r) return r.error();
    consumed += *r;
    if (*r < n && !decoder.done()) return base::Error(Errc::kProtocol, "stopped early");
  }
  if (!decoder.done()) return base::Error(Errc::kNeedMore);
  return consumed;
}

TEST(HttpCodec, ChunkedBodies) {
  constexpr std::string_view kBody =
      "5\r\nhello\r\n"
      "1A;name=value;flag\r\nabcdefghijklmnopqrstuvwxyz\r\n"
      "0 ; last\r\n"
      "Checksum: abc\r\n"
      "Other: x\r\n"
      "\r\n";
  for (std::size_t step = 1; step <= kBody.size(); ++step) {
    std::string with_next = std::string(kBody) + "GET / HTTP/1.1\r\n";
    auto r = decode_chunked(with_next, step);
    ASSERT_TRUE(r) << step << " " << r.error().message();
    EXPECT_EQ(*r, kBody.size()) << step;
  }
  EXPECT_EQ(*decode_chunked("0\r\n\r\n", 100), 5u);
  EXPECT_TRUE(decode_chunked("5\r\nhel", 100).error().is(Errc::kNeedMore));
  for (std::string_view bad : {
           std::string_view("\r\n"),
           std::string_view("g\r\n"),
           std::string_view("5\r\nhelloX\r\n0\r\n\r\n"),
           std::string_view("5\nhello\r\n0\r\n\r\n"),
           std::string_view("5x\r\nhello\r\n0\r\n\r\n"),
           std::string_view("0\r\n folded\r\n\r\n"),
           std::string_view("0\r\nA: \x01\r\n\r\n"),
       }) {
    auto r = decode_chunked(bad, 100);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().is(Errc::kProtocol)) << bad;
  }
  EXPECT_TRUE(decode_chunked("1000000000000000\r\n", 100).error().is(Errc::kTooLarge));
  std::string long_ext = "1;" + std::string(ChunkedDecoder::kMaxLine, 'a') + "\r\n";
  EXPECT_TRUE(decode_chunked(long_ext, 100).error().is(Errc::kTooLarge));
  std::string long_trailer = "0\r\n";
  for (int i = 0; i < 20; ++i) long_trailer += "X: " + std::string(1000, 'b') + "\r\n";
  EXPECT_TRUE(decode_chunked(long_trailer, 100).error().is(Errc::kTooLarge));
}

TEST(HttpCodec, HopByHopRemoval) {
  constexpr std::string_view kRequest =
      "GET http://a.example/x HTTP/1.1\r\n"
      "Host: wrong.example\r\n"
      "Connection: keep-alive, X-Secret , close\r\n"
      "connection: Content-Length\r\n"
      "Keep-Alive: timeout=5\r\n"
      "Proxy-Connection: keep-alive\r\n"
      "Proxy-Authorization: Basic dTpw\r\n"
      "TE: trailers\r\n"
      "Upgrade: h2c\r\n"
      "X-Secret: 1\r\n"
      "x-secret: 2\r\n"
      "Expect: 100-continue\r\n"
      "Content-Length: 3\r\n"
      "Accept: */*\r\n"
      "\r\n";
  auto head = parse_request_head(kRequest);
  ASSERT_TRUE(head);
  auto target = parse_request_target(*head);
  ASSERT_TRUE(target);
  EXPECT_EQ(serialize_request(*head, *target, target->authority, true),
            "GET /x HTTP/1.1\r\n"
            "Host: a.example\r\n"
            "Content-Length: 3\r\n"
            "Accept: */*\r\n"
            "\r\n");
  EXPECT_EQ(serialize_request(*head, *target, target->authority, false),
            "GET /x HTTP/1.1\r\n"
            "Host: a.example\r\n"
            "Expect: 100-continue\r\n"
            "Content-Length: 3\r\n"
            "Accept: */*\r\n"
            "\r\n");

  auto q = parse_request_head("HEAD http://b?q HTTP/1.0\r\nUser-Agent: \r\n\r\n");
  ASSERT_TRUE(q);
  auto qt = parse_request_target(*q);
  ASSERT_TRUE(qt);
  // No User-Agent is added, and an empty one stays empty.
  EXPECT_EQ(serialize_request(*q, *qt, qt->authority, false),
            "HEAD /?q HTTP/1.0\r\nHost: b\r\nUser-Agent: \r\n\r\n");

  constexpr std::string_view kResponse =
      "HTTP/1.1 200 OK\r\n"
      "Connection: close, X-Hop\r\n"
      "X-Hop: a\r\n"
      "Proxy-Authenticate: Basic\r\n"
      "Keep-Alive: 5\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Trailer: Checksum\r\n"
      "Set-Cookie: a=b\r\n"
      "\r\n";
  auto resp = parse_response_head(kResponse, 4096);
  ASSERT_TRUE(resp);
  EXPECT_EQ(serialize_response(*resp, true, false),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Checksum\r\n"
            "Set-Cookie: a=b\r\n\r\n");
  EXPECT_EQ(serialize_response(*resp, false, false),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Checksum\r\n"
            "Set-Cookie: a=b\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(serialize_response(*resp, true, true),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Checksum\r\n"
            "Set-Cookie: a=b\r\nConnection: keep-alive\r\n\r\n");
}

TEST(HttpCodec, BasicAuth) {
  auto c = decode_basic_auth("Basic dXNlcjpwYTpzcw==");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "user");
  EXPECT_EQ(c->pass, "pa:ss");
  c = decode_basic_auth("basic   Ojo=");  // "::"
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user, "");
  EXPECT_EQ(c->pass, ":");
  EXPECT_FALSE(decode_basic_auth("Bearer dXNlcjpwYXNz"));
  EXPECT_FALSE(decode_basic_auth("Basic dXNlcg=="));  // no colon
  EXPECT_FALSE(decode_basic_auth("Basic !!!!"));
  EXPECT_FALSE(decode_basic_auth("Basic"));
  EXPECT_EQ(encode_basic_auth("user", "pa:ss"), "Basic dXNlcjpwYTpzcw==");
}

TEST(HttpCodec, ConnectRequest) {
  net::Destination to{net::Network::kTcp, net::Address::parse("example.com"), 443};
  config::Account user{"u", "p", 0, ""};
  std::pair<std::string, std::string> headers[] = {{"User-Agent", "xsup"},
                                                   {"X-Bad", "a\r\nInjected: 1"}};
  EXPECT_EQ(serialize_connect(to, &user, headers),
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
            "Proxy-Authorization: Basic dTpw\r\nUser-Agent: xsup\r\n\r\n");
  EXPECT_EQ(serialize_connect(to, nullptr, {}),
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
}

}  // namespace
}  // namespace xsup::worker::proxy::http
