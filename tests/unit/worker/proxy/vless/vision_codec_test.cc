// Known answers from spec/vision.md §2-§5 and §9.

#include "worker/proxy/vless/vision_codec.h"

#include <gtest/gtest.h>

#include "tests/unit/worker/proxy/test_bytes.h"

namespace xsup::worker::proxy::vless::vision {
namespace {

using testing::ByteVector;
using testing::hex;
using testing::to_hex;

Uuid uuid() {
  const ByteVector bytes = hex("b831381d63244d53ad4f8cda48b30811");
  Uuid id{};
  std::copy(bytes.begin(), bytes.end(), id.begin());
  return id;
}

// spec/vision.md §9: a TLS 1.3 ServerHello with the given cipher suite.
ByteVector server_hello(std::string_view cipher, bool tls13 = true) {
  ByteVector out = hex("160303007a020000760303");
  out.insert(out.end(), 32, 0x11);  // random
  out.push_back(0x20);
  out.insert(out.end(), 32, 0x22);  // session id
  ByteVector rest = hex(cipher);
  rest.push_back(0x00);  // compression
  ByteVector ext = tls13 ? hex("002e 002b00020304 00330024") : hex("002e 00170000 ff01000100");
  rest.insert(rest.end(), ext.begin(), ext.end());
  out.insert(out.end(), rest.begin(), rest.end());
  out.resize(0x7a + 5, 0x33);  // key share bytes
  return out;
}

TEST(VisionFilter, Tls13ServerHelloEnablesDirectCopy) {
  TrafficState state;
  filter_tls(state, server_hello("1301"));
  EXPECT_TRUE(state.is_tls);
  EXPECT_TRUE(state.is_tls12_or_above);
  EXPECT_EQ(state.cipher, 0x1301);
  EXPECT_TRUE(state.enable_xtls);
  EXPECT_EQ(state.packets_to_filter, 0);
}

TEST(VisionFilter, Ccm8StaysInsideOuterTls) {
  TrafficState state;
  filter_tls(state, server_hello("1305"));
  EXPECT_EQ(state.cipher, 0x1305);
  EXPECT_FALSE(state.enable_xtls);
  EXPECT_EQ(state.packets_to_filter, 0);
}

TEST(VisionFilter, ServerHelloWithoutSupportedVersionsIsTls12) {
  TrafficState state;
  filter_tls(state, server_hello("c02f", /*tls13=*/false));
  EXPECT_TRUE(state.is_tls12_or_above);
  EXPECT_FALSE(state.enable_xtls);
  EXPECT_EQ(state.packets_to_filter, 0);
}

TEST(VisionFilter, ClientHelloMarksTlsAndPlainBytesCountDown) {
  TrafficState state;
  filter_tls(state, hex("160301020001000200"));
  EXPECT_TRUE(state.is_tls);
  EXPECT_FALSE(state.is_tls12_or_above);
  EXPECT_EQ(state.packets_to_filter, kPacketsToFilter - 1);
  TrafficState plain;
  const ByteVector get = hex("474554202f20485454502f312e310d0a");
  for (int i = 0; i < kPacketsToFilter + 2; ++i) filter_tls(plain, get);
  EXPECT_FALSE(plain.is_tls);
  EXPECT_EQ(plain.packets_to_filter, 0);
}

TEST(VisionRecords, CompleteRecords) {
  EXPECT_TRUE(is_complete_record(hex("17030300 02aabb")));
  EXPECT_FALSE(is_complete_record(hex("17030300 02aa")));
  EXPECT_TRUE(is_complete_record(hex("1703030002aabb 1703030001cc")));
  EXPECT_FALSE(is_complete_record(hex("1603030002aabb")));
  EXPECT_FALSE(is_complete_record({}));
}

TEST(VisionReshape, SplitsAtTheLastAppDataRecordOrAt4096) {
  ByteVector big(9000, 0x00);
  EXPECT_EQ(reshape_split(big), 4096u);
  big[5000] = 0x17;
  big[5001] = 0x03;
  big[5002] = 0x03;
  big[100] = 0x17;
  big[101] = 0x03;
  big[102] = 0x03;
  EXPECT_EQ(reshape_split(big), 5000u);
  big[8500] = 0x17;  // past 8171: not a cut point
  big[8501] = 0x03;
  big[8502] = 0x03;
  EXPECT_EQ(reshape_split(big), 5000u);
}

TEST(VisionPadding, LongAndShortRules) {
  // spec/vision.md §9: a 517-byte ClientHello gets 383..882 bytes.
  EXPECT_EQ(padding_length(517, true, kDefaultSeed, 0), 383u);
  EXPECT_EQ(padding_length(517, true, kDefaultSeed, 499), 882u);
  EXPECT_EQ(padding_length(0, true, kDefaultSeed, 0), 900u);
  EXPECT_EQ(padding_length(0, true, kDefaultSeed, 499), 1399u);
  EXPECT_EQ(padding_length(1000, true, kDefaultSeed, 300), 300u % 256);
  EXPECT_EQ(padding_length(100, false, kDefaultSeed, 255), 255u);
  // The cap keeps UUID + header + content + padding within 8192 bytes.
  EXPECT_EQ(padding_length(8000, false, kDefaultSeed, 255), 171u);
  EXPECT_EQ(padding_length(8171, false, kDefaultSeed, 255), 0u);
}

TEST(VisionFrame, FirstFrameAndLaterFrames) {
  const Uuid id = uuid();
  std::array<std::uint8_t, kMaxFrame> out;
  const ByteVector content = hex("aabbcc");
  std::size_t n = encode_frame(&id, Command::kContinue, content, 2, out);
  EXPECT_EQ(to_hex({out.data(), n}),
            "b831381d63244d53ad4f8cda48b30811"
            "00"
            "0003"
            "0002"
            "aabbcc"
            "0000");
  n = encode_frame(nullptr, Command::kDirect, content, 0, out);
  EXPECT_EQ(to_hex({out.data(), n}),
            "02"
            "0003"
            "0000"
            "aabbcc");
  n = encode_frame(&id, Command::kContinue, {}, 3, out);
  EXPECT_EQ(to_hex({out.data(), n}),
            "b831381d63244d53ad4f8cda48b30811"
            "00"
            "0000"
            "0003"
            "000000");
}

// A first frame, a Continue with no content, an End, and plain data after it.
ByteVector sample_stream() {
  return hex(
      "b831381d63244d53ad4f8cda48b30811 00 0003 0004 616263 00000000"
      "00 0000 0002 0000"
      "01 0002 0001 6465 00"
      "666768");
}

std::string unpad_in_pieces(Unpadder& unpadder, const ByteVector& in,
                            const std::vector<std::size_t>& cuts) {
  std::string out;
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(in.size());
  for (std::size_t end : ends) {
    // In place, as the stream does: the data 16 bytes into the work buffer.
    ByteVector work(16 + (end - from));
    std::copy(in.begin() + from, in.begin() + end, work.begin() + 16);
    const std::size_t n = unpadder.unpad({work.data() + 16, end - from}, work.data());
    out.append(reinterpret_cast<const char*>(work.data()), n);
    from = end;
  }
  return out;
}

TEST(VisionUnpadder, WholeStream) {
  Unpadder unpadder(uuid());
  EXPECT_EQ(unpad_in_pieces(unpadder, sample_stream(), {}), "abcdefgh");
  EXPECT_FALSE(unpadder.within_padding());
  EXPECT_FALSE(unpadder.direct());
}

TEST(VisionUnpadder, EverySplitPointGivesTheSameBytes) {
  const ByteVector in = sample_stream();
  for (std::size_t a = 0; a <= in.size(); ++a) {
    for (std::size_t b = a; b <= in.size(); b += 3) {
      Unpadder unpadder(uuid());
      ASSERT_EQ(unpad_in_pieces(unpadder, in, {a, b}), "abcdefgh") << a << " " << b;
      ASSERT_FALSE(unpadder.within_padding());
    }
  }
}

TEST(VisionUnpadder, DirectCommand) {
  Unpadder unpadder(uuid());
  const ByteVector in = hex("b831381d63244d53ad4f8cda48b30811 02 0001 0003 17 000000");
  const std::string out = unpad_in_pieces(unpadder, in, {17, 20});
  EXPECT_EQ(out, "\x17");
  EXPECT_TRUE(unpadder.direct());
  EXPECT_FALSE(unpadder.within_padding());
}

TEST(VisionUnpadder, PeerThatNeverPadsPassesThrough) {
  Unpadder unpadder(uuid());
  // Starts like the UUID for two bytes, split inside that prefix.
  const ByteVector in = hex("b831 474554202f");
  const std::string out = unpad_in_pieces(unpadder, in, {1, 2});
  EXPECT_EQ(to_hex({reinterpret_cast<const std::uint8_t*>(out.data()), out.size()}),
            "b831474554202f");
  EXPECT_FALSE(unpadder.within_padding());
}

TEST(VisionUnpadder, StillPaddingWhileAFrameIsOpen) {
  Unpadder unpadder(uuid());
  const ByteVector in = hex("b831381d63244d53ad4f8cda48b30811 01 0004 0000 6162");
  EXPECT_EQ(unpad_in_pieces(unpadder, in, {}), "ab");
  EXPECT_TRUE(unpadder.within_padding());
}

}  // namespace
}  // namespace xsup::worker::proxy::vless::vision
