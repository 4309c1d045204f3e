#include "shared/ipc/frame.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace xsup::ipc {
namespace {

using nlohmann::json;

std::string header(std::uint32_t length) {
  return {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
          static_cast<char>(length >> 8), static_cast<char>(length)};
}

// Every message the decoder has complete, failing the test on an error.
std::vector<json> drain(FrameDecoder& decoder) {
  std::vector<json> out;
  for (;;) {
    auto next = decoder.next();
    EXPECT_TRUE(next.has_value()) << next.error().message();
    if (!next || !next->has_value()) return out;
    out.push_back(std::move(**next));
  }
}

base::Error decode_error(std::string_view bytes) {
  FrameDecoder decoder;
  decoder.feed(bytes);
  auto next = decoder.next();
  EXPECT_FALSE(next.has_value());
  return next ? base::Error() : next.error();
}

TEST(FrameTest, HeaderIsBigEndianLengthOfCompactJson) {
  const std::string frame = encode_frame(json{{"a", 1}});
  EXPECT_EQ(frame, header(7) + R"({"a":1})");
}

TEST(FrameTest, RoundTrip) {
  json message = make_message("stats");
  message["users"] = {{"a@example.com", {{"up", 10}, {"down", 20}}}};
  message["note"] = "caf\xC3\xA9";
  FrameDecoder decoder;
  decoder.feed(encode_frame(message));
  auto out = drain(decoder);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], message);
  EXPECT_EQ(decoder.buffered(), 0u);
  EXPECT_EQ(decoder.consumed(), encode_frame(message).size());
}

TEST(FrameTest, InvalidUtf8IsReplacedWhenEncoding) {
  json message = make_message("log");
  message["text"] = std::string("bad \xFF byte");
  FrameDecoder decoder;
  decoder.feed(encode_frame(message));
  auto out = drain(decoder);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["text"], "bad \xEF\xBF\xBD byte");
}

TEST(FrameTest, EverySplitPointOfThreeFrames) {
  const std::vector<json> messages = {make_message("ready"), make_message("heartbeat"),
                                      json{{"v", 1}, {"type", "log"}, {"text", "x"}}};
  std::string stream;
  for (const auto& m : messages) stream += encode_frame(m);
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    SCOPED_TRACE(split);
    FrameDecoder decoder;
    decoder.feed(std::string_view(stream).substr(0, split));
    auto out = drain(decoder);
    decoder.feed(std::string_view(stream).substr(split));
    auto rest = drain(decoder);
    out.insert(out.end(), rest.begin(), rest.end());
    EXPECT_EQ(out, messages);
    EXPECT_EQ(decoder.consumed(), stream.size());
  }
  FrameDecoder bytewise;
  std::vector<json> out;
  for (char c : stream) {
    bytewise.feed(std::string_view(&c, 1));
    auto got = drain(bytewise);
    out.insert(out.end(), got.begin(), got.end());
  }
  EXPECT_EQ(out, messages);
}

TEST(FrameTest, ZeroLengthRejected) {
  auto error = decode_error(header(0) + "{}");
  EXPECT_TRUE(error.is(base::Errc::kProtocol));
}

TEST(FrameTest, OversizeRejectedFromTheHeaderAlone) {
  auto error = decode_error(header(kMaxFrame + 1));
  EXPECT_TRUE(error.is(base::Errc::kTooLarge));
  // The largest legal length is just incomplete.
  FrameDecoder decoder;
  decoder.feed(header(kMaxFrame) + "{");
  auto next = decoder.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->has_value());
}

TEST(FrameTest, InvalidJsonRejected) {
  EXPECT_TRUE(decode_error(header(5) + "{\"a\":").is(base::Errc::kProtocol));
  EXPECT_TRUE(decode_error(header(3) + "\"\xFF\"").is(base::Errc::kProtocol));
  const std::string deep =
      std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  const std::string nested = "{\"a\":" + deep + "}";
  EXPECT_TRUE(decode_error(header(nested.size()) + nested).is(base::Errc::kProtocol));
}

TEST(FrameTest, NonObjectRejected) {
  EXPECT_TRUE(decode_error(header(2) + "[]").is(base::Errc::kProtocol));
  EXPECT_TRUE(decode_error(header(1) + "7").is(base::Errc::kProtocol));
  EXPECT_TRUE(decode_error(header(4) + "null").is(base::Errc::kProtocol));
}

TEST(FrameTest, ErrorIsFinal) {
  FrameDecoder decoder;
  decoder.feed(header(0));
  EXPECT_FALSE(decoder.next().has_value());
  decoder.feed(encode_frame(make_message("ready")));
  EXPECT_FALSE(decoder.next().has_value());
}

TEST(FrameTest, BracketsInsideStringsDoNotCountAsDepth) {
  json message = make_message("log");
  message["text"] = std::string(200, '[') + "\\\"{";
  FrameDecoder decoder;
  decoder.feed(encode_frame(message));
  auto out = drain(decoder);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], message);
}

constexpr std::array<std::string_view, 2> kBeforeBootstrap = {"bootstrap", "stop"};
constexpr std::array<std::string_view, 4> kServing = {"users", "certs", "drain", "stop"};

TEST(EnvelopeTest, AcceptsAllowedTypes) {
  EXPECT_TRUE(check_envelope(make_message("bootstrap"), kBeforeBootstrap).has_value());
  EXPECT_TRUE(check_envelope(make_message("drain"), kServing).has_value());
}

TEST(EnvelopeTest, TypeNotAllowedInThisState) {
  // A second bootstrap once serving is as wrong as users before the bootstrap.
  auto late = check_envelope(make_message("bootstrap"), kServing);
  ASSERT_FALSE(late.has_value());
  EXPECT_TRUE(late.error().is(base::Errc::kProtocol));
  EXPECT_FALSE(check_envelope(make_message("users"), kBeforeBootstrap).has_value());
}

TEST(EnvelopeTest, VersionChecked) {
  auto other = check_envelope(json{{"v", 2}, {"type", "stop"}}, kServing);
  ASSERT_FALSE(other.has_value());
  EXPECT_TRUE(other.error().is(base::Errc::kUnsupported));
  EXPECT_TRUE(check_envelope(json{{"type", "stop"}}, kServing).error().is(base::Errc::kProtocol));
  EXPECT_TRUE(check_envelope(json{{"v", "1"}, {"type", "stop"}}, kServing)
                  .error()
                  .is(base::Errc::kProtocol));
}

TEST(EnvelopeTest, TypeMustBeAString) {
  EXPECT_FALSE(check_envelope(json{{"v", 1}}, kServing).has_value());
  EXPECT_FALSE(check_envelope(json{{"v", 1}, {"type", 3}}, kServing).has_value());
  EXPECT_FALSE(check_envelope(json::array(), kServing).has_value());
}

}  // namespace
}  // namespace xsup::ipc
