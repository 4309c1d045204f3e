#include "shared/base/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace xsup::base {
namespace {

TEST(Base64, StandardVectors) {
  // RFC 4648 §10.
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zg=="), "f");
  EXPECT_EQ(base64_decode("Zm8="), "fo");
  EXPECT_EQ(base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(base64_decode(""), "");
}

TEST(Base64, StandardRefusesMalformed) {
  EXPECT_FALSE(base64_decode("Zg"));        // length
  EXPECT_FALSE(base64_decode("Z==="));      // three pads
  EXPECT_FALSE(base64_decode("Zg==Zg=="));  // padding inside
  EXPECT_FALSE(base64_decode("Z=g="));
  EXPECT_FALSE(base64_decode("Zm9-"));  // URL alphabet
  EXPECT_FALSE(base64_decode("Zh=="));  // nonzero leftover bits
}

TEST(Base64, UrlAlphabetUnpadded) {
  const std::string bytes("\xfb\xff\xfe", 3);
  EXPECT_EQ(base64_encode(bytes), "+//+");
  EXPECT_EQ(base64_encode(bytes, Base64::kUrl), "-__-");
  EXPECT_EQ(base64_encode("f", Base64::kUrl), "Zg");
  EXPECT_EQ(base64url_decode("-__-"), bytes);
  EXPECT_EQ(base64url_decode("Zg"), "f");
  EXPECT_EQ(base64url_decode("Zg=="), "f");  // padding is optional
  EXPECT_FALSE(base64url_decode("+//+"));
  EXPECT_FALSE(base64url_decode("Z"));
}

TEST(Base64, EveryByteRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    const std::string part = all.substr(0, n);
    EXPECT_EQ(base64_decode(base64_encode(part)), part);
    EXPECT_EQ(base64url_decode(base64_encode(part, Base64::kUrl)), part);
  }
}

}  // namespace
}  // namespace xsup::base
