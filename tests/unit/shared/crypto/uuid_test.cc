#include "shared/crypto/uuid.h"

#include <gtest/gtest.h>

namespace xsup::crypto {
namespace {

TEST(Uuid, RoundTripsAndIsVersion4) {
  Uuid u = random_uuid();
  std::string text = to_string(u);
  ASSERT_EQ(text.size(), 36u);
  EXPECT_EQ(text[14], '4');
  EXPECT_TRUE(text[19] == '8' || text[19] == '9' || text[19] == 'a' || text[19] == 'b');
  auto back = parse_uuid(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, u);
  EXPECT_NE(to_string(random_uuid()), text);
}

TEST(Uuid, ParsesKnownValueAndRejectsMalformed) {
  auto u = parse_uuid("5783A3E7-E373-51CD-8642-C83782B807C5");
  ASSERT_TRUE(u);
  EXPECT_EQ(to_string(*u), "5783a3e7-e373-51cd-8642-c83782b807c5");
  EXPECT_TRUE(parse_uuid("5783a3e7e37351cd8642c83782b807c5"));
  EXPECT_FALSE(parse_uuid("5783a3e7-e373-51cd-8642-c83782b807c"));
  EXPECT_FALSE(parse_uuid("5783a3e7xe373-51cd-8642-c83782b807c5"));
  EXPECT_FALSE(parse_uuid("zz83a3e7-e373-51cd-8642-c83782b807c5"));
}

}  // namespace
}  // namespace xsup::crypto
