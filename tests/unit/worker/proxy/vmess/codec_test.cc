// Known-answer tests from spec/vmess.md §9, plus round trips and bad input.

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "shared/crypto/uuid.h"
#include "worker/proxy/vmess/chunk.h"
#include "worker/proxy/vmess/header.h"
#include "worker/proxy/vmess/primitives.h"

namespace xsup::worker::proxy::vmess {
namespace {

using base::Errc;
using Vec = std::vector<std::uint8_t>;

Vec hex(std::string text) {
  Vec out;
  std::string digits;
  for (char c : text) {
    if (c != ' ') digits += c;
  }
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

template <class T>
std::string to_hex(const T& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

Bytes16 counting(std::uint8_t first) {
  Bytes16 out;
  for (std::size_t i = 0; i < 16; ++i) out[i] = static_cast<std::uint8_t>(first + i);
  return out;
}

const Bytes16 kSpecUuid = *crypto::parse_uuid("b831381d-6324-4d53-ad4f-8cda48b30811");
const Vec kSpecNonce = hex("a0a1a2a3a4a5a6a7");

RequestHeader spec_header() {
  RequestHeader h;
  h.body_iv = counting(0x00);
  h.body_key = counting(0x10);
  h.response_auth = 0x2a;
  h.options = 0x0d;
  h.padding = 0;
  h.security = 3;
  h.command = Command::kTcp;
  h.target = {net::Network::kTcp, net::Address::domain("example.com"), 443};
  return h;
}

// ---- KDF -----------------------------------------------------------------------------------

TEST(VmessKdf, SpecSanityVectors) {
  const Bytes16 cmd = counting(0x00);
  const Bytes16 auth_id = counting(0x10);
  const Vec nonce = hex("0011223344556677");
  EXPECT_EQ(to_hex(kdf16(cmd, {label("VMess Header AEAD Key_Length"), auth_id, nonce})),
            "47c5ee168f14ba38aebc458844e45fa3");
  Bytes32 n = kdf(cmd, {label("VMess Header AEAD Nonce_Length"), auth_id, nonce});
  EXPECT_EQ(to_hex(Vec(n.begin(), n.begin() + 12)), "1568461eed64408cce969ac2");
  EXPECT_EQ(to_hex(kdf16(cmd, {label("AEAD Resp Header Len Key")})),
            "1dbcdc6d886515862212014a20172f03");
  EXPECT_EQ(to_hex(kdf16(cmd, {label("AES Auth ID Encryption")})),
            "9fa4289c41650861a45b34aeab3879fe");
}

TEST(VmessKdf, NoPathIsPlainHmac) {
  // With no path elements the KDF is HMAC-SHA256("VMess AEAD KDF", key).
  const Bytes16 key = counting(0x40);
  Bytes32 expected{};
  unsigned int n = 0;
  const std::string root = "VMess AEAD KDF";
  ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, root.data(), root.size(),
                      key.data(), key.size(), expected.data(), expected.size(), nullptr),
            nullptr);
  (void)n;
  EXPECT_EQ(kdf(key, {}), expected);
}

TEST(VmessKdf, SpecKeys) {
  const Bytes16 cmd = cmd_key(kSpecUuid);
  EXPECT_EQ(to_hex(cmd), "b50d916ac0cec067981af8e5f38a758f");
  EXPECT_EQ(to_hex(auth_id_key(cmd)), "1415ba74ca8b3d041a8f583fb4116315");
  EXPECT_EQ(to_hex(response_key(counting(0x10))), "fc2e2c73072bfa2bda03ff9307472deb");
  EXPECT_EQ(to_hex(response_iv(counting(0x00))), "be45cb2605bf36bebde684841a28f0fd");
  EXPECT_EQ(to_hex(chacha_key(counting(0x10))),
            "1bf42e241816ba29ff5f307bb1bc1d168b39e04ece3e33ab822442d7e6cefd5f");
  EXPECT_EQ(to_hex(kdf16(counting(0x10), {label("auth_len")})), "49d3958e625ef844be78bb41a9df9743");
}

TEST(VmessPrimitives, Checksums) {
  const std::string text = "123456789";
  EXPECT_EQ(crc32_ieee(label(text)), 0xCBF43926u);
  EXPECT_EQ(fnv1a32(label("")), 0x811C9DC5u);
  EXPECT_EQ(fnv1a32(label("a")), 0xE40C292Cu);
}

// ---- SHAKE128 ------------------------------------------------------------------------------

TEST(VmessShake, SpecVector) {
  Shake128Stream s(counting(0x00));
  std::uint8_t first[8];
  s.read(first, 8);
  EXPECT_EQ(to_hex(first), "98481946de85c670");
}

TEST(VmessShake, MatchesOpenSslOverManyBlocks) {
  // 2000 bytes cross eleven 168-byte blocks; drawn two bytes at a time as the codec does.
  const Bytes16 seed = counting(0x33);
  Vec expected(2000);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestInit_ex(ctx, EVP_shake128(), nullptr), 1);
  ASSERT_EQ(EVP_DigestUpdate(ctx, seed.data(), seed.size()), 1);
  ASSERT_EQ(EVP_DigestFinalXOF(ctx, expected.data(), expected.size()), 1);
  EVP_MD_CTX_free(ctx);
  Shake128Stream s(seed);
  Vec got;
  for (int i = 0; i < 1000; ++i) {
    std::uint16_t v = s.next();
    got.push_back(static_cast<std::uint8_t>(v >> 8));
    got.push_back(static_cast<std::uint8_t>(v));
  }
  EXPECT_EQ(got, expected);
}

// ---- AuthID --------------------------------------------------------------------------------

TEST(VmessAuthId, SpecVector) {
  AesBlock key(auth_id_key(cmd_key(kSpecUuid)));
  Bytes16 id = make_auth_id(key, 1700000000, 0x01020304);
  EXPECT_EQ(to_hex(id), "4774fe5cc901ea4f81f2159909767a36");
  EXPECT_EQ(to_hex(key.decrypt(id)), "000000006553f10001020304b85575f7");
  auto time = open_auth_id(key, id);
  ASSERT_TRUE(time);
  EXPECT_EQ(*time, 1700000000);
}

TEST(VmessAuthId, OtherUserDoesNotMatch) {
  AesBlock key(auth_id_key(cmd_key(kSpecUuid)));
  Bytes16 id = make_auth_id(key, 1700000000, 7);
  AesBlock other(auth_id_key(cmd_key(counting(0x55))));
  EXPECT_FALSE(open_auth_id(other, id));
  id[3] ^= 1;
  EXPECT_FALSE(open_auth_id(key, id));
}

// ---- request header ------------------------------------------------------------------------

TEST(VmessHeader, SpecPlaintext) {
  std::array<std::uint8_t, kMaxHeaderSize> buf;
  std::size_t n = encode_header(spec_header(), {}, buf);
  EXPECT_EQ(to_hex(Vec(buf.begin(), buf.begin() + n)),
            "01000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2a0d030001"
            "01bb020b6578616d706c652e636f6df6f2c997");
  auto parsed = parse_header({buf.data(), n});
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->target.to_string(), "tcp:example.com:443");
  EXPECT_EQ(parsed->security, 3);
  EXPECT_EQ(parsed->options, 0x0d);
  EXPECT_EQ(parsed->response_auth, 0x2a);
  EXPECT_EQ(parsed->body_iv, counting(0x00));
  EXPECT_EQ(parsed->body_key, counting(0x10));
}

TEST(VmessHeader, SpecSealedRequest) {
  const Bytes16 cmd = cmd_key(kSpecUuid);
  AesBlock key(auth_id_key(cmd));
  const Bytes16 auth_id = make_auth_id(key, 1700000000, 0x01020304);
  std::array<std::uint8_t, kMaxHeaderSize> plain;
  std::size_t n = encode_header(spec_header(), {}, plain);
  std::array<std::uint8_t, kMaxRequestSize> wire;
  std::size_t size =
      seal_request(cmd, auth_id, std::span<const std::uint8_t, 8>(kSpecNonce.data(), 8),
                   {plain.data(), n}, wire);
  ASSERT_EQ(size, 115u);
  EXPECT_EQ(to_hex(Vec(wire.begin() + 16, wire.begin() + 34)),
            "6328a3310dc74ccde87ceff0f3ea38225c93");
  EXPECT_EQ(to_hex(Vec(wire.begin() + 42, wire.begin() + 115)),
            "62f5e4542e3928912665ad15c2e4d26beb1cc6844cfdb411b2c7961a5934d7c24c3886ad9f69f82b"
            "875a0d3dd40a554711b830c7c43c521bb4b8fc832c9cee42ebc0517cb676aa7b95");

  auto length = open_header_length(cmd, {wire.data(), kRequestPrefixSize});
  ASSERT_TRUE(length);
  EXPECT_EQ(*length, 57u);
  std::array<std::uint8_t, kMaxHeaderSize> opened;
  ASSERT_TRUE(open_header(cmd, {wire.data(), kRequestPrefixSize},
                          {wire.data() + kRequestPrefixSize, *length + 16}, opened.data()));
  EXPECT_EQ(Vec(opened.begin(), opened.begin() + 57), Vec(plain.begin(), plain.begin() + 57));

  // A flipped bit anywhere in the sealed parts fails authentication.
  wire[20] ^= 0x80;
  EXPECT_TRUE(
      open_header_length(cmd, {wire.data(), kRequestPrefixSize}).error().is(Errc::kAuthFailed));
  wire[20] ^= 0x80;
  wire[60] ^= 0x01;
  EXPECT_FALSE(open_header(cmd, {wire.data(), kRequestPrefixSize},
                           {wire.data() + kRequestPrefixSize, *length + 16}, opened.data()));
  // Another user's cmdKey does not open it either.
  EXPECT_FALSE(open_header_length(cmd_key(counting(9)), {wire.data(), kRequestPrefixSize}));
}

TEST(VmessHeader, OversizedLengthIsRefused) {
  const Bytes16 cmd = cmd_key(kSpecUuid);
  AesBlock key(auth_id_key(cmd));
  const Bytes16 auth_id = make_auth_id(key, 1700000000, 1);
  // A header of kMaxHeaderSize + 1 bytes cannot even be sealed by the encoder.
  Vec big(kMaxHeaderSize + 1, 0);
  std::array<std::uint8_t, kMaxRequestSize + 64> wire;
  EXPECT_EQ(
      seal_request(cmd, auth_id, std::span<const std::uint8_t, 8>(kSpecNonce.data(), 8), big, wire),
      0u);
}

TEST(VmessHeader, AddressForms) {
  for (const char* text : {"1.2.3.4", "2001:db8::1", "a.example"}) {
    RequestHeader h = spec_header();
    h.target.address = net::Address::parse(text);
    h.padding = 5;
    h.command = Command::kUdp;
    h.target.network = net::Network::kUdp;
    const Vec padding(5, 0xEE);
    std::array<std::uint8_t, kMaxHeaderSize> buf;
    std::size_t n = encode_header(h, padding, buf);
    ASSERT_GT(n, 0u);
    auto parsed = parse_header({buf.data(), n});
    ASSERT_TRUE(parsed) << text << ": " << parsed.error().message();
    EXPECT_EQ(parsed->target, h.target) << text;
    EXPECT_EQ(parsed->command, Command::kUdp);
    EXPECT_EQ(parsed->padding, 5);
  }
}

TEST(VmessHeader, BadPlaintexts) {
  std::array<std::uint8_t, kMaxHeaderSize> buf;
  std::size_t n = encode_header(spec_header(), {}, buf);
  // Wrong FNV.
  Vec bad(buf.begin(), buf.begin() + n);
  bad.back() ^= 1;
  EXPECT_TRUE(parse_header(bad).error().is(Errc::kProtocol));
  // Truncated (F recomputed so only the shape is wrong).
  for (std::size_t cut = 1; cut < n - 4; ++cut) {
    Vec t(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n - 4 - cut));
    std::uint8_t f[4];
    put_u32(f, fnv1a32(t));
    t.insert(t.end(), f, f + 4);
    EXPECT_FALSE(parse_header(t)) << "cut " << cut;
  }
  // Unknown command and address type.
  for (auto [offset, value] : {std::pair<std::size_t, std::uint8_t>{37, 0x07}, {40, 0x09}}) {
    Vec t(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n - 4));
    t[offset] = value;
    std::uint8_t f[4];
    put_u32(f, fnv1a32(t));
    t.insert(t.end(), f, f + 4);
    EXPECT_TRUE(parse_header(t).error().is(Errc::kProtocol));
  }
}

// ---- response header -----------------------------------------------------------------------

TEST(VmessResponse, SpecVector) {
  const Bytes16 key = response_key(counting(0x10));
  const Bytes16 iv = response_iv(counting(0x00));
  std::array<std::uint8_t, kResponseHeaderSize> out;
  seal_response_header(key, iv, 0x2a, out);
  EXPECT_EQ(to_hex(out),
            "9bdfb1639712b6a6348d0087b8d1af379ecf"
            "18afb5ebf2c77efe2b4d82a8503f9b9e72471be0");
  auto n = open_response_length(key, iv, {out.data(), 18});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 4u);
  auto v = open_response_header(key, iv, {out.data() + 18, 20});
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 0x2a);
  out[19] ^= 1;
  EXPECT_FALSE(open_response_header(key, iv, {out.data() + 18, 20}));
}

// ---- chunks --------------------------------------------------------------------------------

TEST(VmessChunk, SpecFirstChunk) {
  RequestHeader h = spec_header();
  ChunkCodec sender = request_codec(h);
  std::array<std::uint8_t, 128> out;
  const std::string hello = "hello";
  std::size_t n = sender.seal(label(hello), out.data());
  ASSERT_EQ(n, 2u + 29u);
  EXPECT_EQ(to_hex(Vec(out.begin(), out.begin() + 2)), "195b");
  EXPECT_EQ(to_hex(Vec(out.begin() + 2, out.begin() + 23)),
            "c76e58df1d1b6686ac14fce9bcc0f768b9c8beb10f");

  ChunkCodec receiver = request_codec(h);
  auto length = receiver.open_length(out.data());
  ASSERT_TRUE(length);
  EXPECT_EQ(length->body, 29u);
  EXPECT_EQ(length->padding, 8u);
  EXPECT_FALSE(length->eof());
  std::array<std::uint8_t, 64> plain;
  auto size = receiver.open(*length, {out.data() + 2, 29}, plain.data());
  ASSERT_TRUE(size);
  EXPECT_EQ(std::string(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(*size)), hello);
}

void round_trip(std::uint8_t security, std::uint8_t options, bool packets) {
  RequestHeader h = spec_header();
  h.security = security;
  h.options = options;
  h.command = packets ? Command::kUdp : Command::kTcp;
  ChunkCodec sender = response_codec(h);
  ChunkCodec receiver = response_codec(h);
  Vec wire(kMaxChunkWire);
  // The empty chunk ends the stream, so it comes last.
  for (std::size_t size :
       {std::size_t{1}, std::size_t{100}, sender.max_payload(), std::size_t{7}, std::size_t{0}}) {
    Vec payload(size);
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
    std::size_t n = sender.seal(payload, wire.data());
    ASSERT_LE(n, kMaxChunkWire);
    auto length = receiver.open_length(wire.data());
    ASSERT_TRUE(length);
    ASSERT_EQ(length->body + 2, n);
    EXPECT_EQ(length->eof(), size == 0);
    if (length->eof()) break;  // a receiver does not open the end chunk
    // In place, as the stream does it.
    auto opened = receiver.open(*length, {wire.data() + 2, length->body}, wire.data() + 2);
    ASSERT_TRUE(opened);
    EXPECT_EQ(Vec(wire.begin() + 2, wire.begin() + 2 + static_cast<std::ptrdiff_t>(*opened)),
              payload);
  }
}

TEST(VmessChunk, RoundTrips) {
  for (std::uint8_t security : {3, 4, 5}) {
    for (std::uint8_t options : {0x01, 0x05, 0x0d}) {
      for (bool packets : {false, true}) {
        SCOPED_TRACE(testing::Message()
                     << "sec " << int(security) << " opt " << int(options) << " udp " << packets);
        round_trip(security, options, packets);
      }
    }
  }
}

TEST(VmessChunk, TamperedChunkFails) {
  RequestHeader h = spec_header();
  ChunkCodec sender = request_codec(h);
  ChunkCodec receiver = request_codec(h);
  std::array<std::uint8_t, 128> out;
  std::size_t n = sender.seal(label("payload"), out.data());
  ASSERT_GT(n, 2u);
  out[5] ^= 0x10;
  auto length = receiver.open_length(out.data());
  ASSERT_TRUE(length);
  std::array<std::uint8_t, 128> plain;
  EXPECT_TRUE(receiver.open(*length, {out.data() + 2, length->body}, plain.data())
                  .error()
                  .is(Errc::kAuthFailed));
}

TEST(VmessChunk, LengthShorterThanTagIsRefused) {
  RequestHeader h = spec_header();
  h.options = kOptChunkStream;  // unmasked: the field is L itself
  ChunkCodec receiver = request_codec(h);
  const std::uint8_t field[2] = {0x00, 0x05};
  EXPECT_TRUE(receiver.open_length(field).error().is(Errc::kProtocol));
}

}  // namespace
}  // namespace xsup::worker::proxy::vmess
