#include "worker/proxy/vless/users.h"

#include <gtest/gtest.h>

#include "shared/crypto/uuid.h"

namespace xsup::worker::proxy::vless {
namespace {

config::VlessUser user(std::string_view id, std::string email) {
  config::VlessUser u;
  u.id = *crypto::parse_uuid(id);
  u.email = std::move(email);
  u.level = 1;
  return u;
}

TEST(VlessUsers, LookupIgnoresBytesSixAndSeven) {
  UserTable table({user("b831381d-6324-4d53-ad4f-8cda48b30811", "a@x"),
                   user("11111111-2222-4333-8444-555555555555", "b@x")});
  EXPECT_EQ(table.size(), 2u);
  const User* a = table.find(*crypto::parse_uuid("b831381d-6324-4d53-ad4f-8cda48b30811"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->email, "a@x");
  EXPECT_EQ(a->level, 1u);
  // spec/vless.md §2: bytes 6-7 ("4d53") carry a route number and do not take part.
  const User* routed = table.find(*crypto::parse_uuid("b831381d-6324-ffff-ad4f-8cda48b30811"));
  ASSERT_EQ(routed, a);
  EXPECT_EQ(table.find(*crypto::parse_uuid("b831381d-6324-4d53-ad4f-8cda48b30812")), nullptr);
  EXPECT_EQ(table.find(*crypto::parse_uuid("b831381e-6324-4d53-ad4f-8cda48b30811")), nullptr);
}

TEST(VlessUsers, FirstOfEqualIdsWins) {
  UserTable table({user("b831381d-6324-4d53-ad4f-8cda48b30811", "first"),
                   user("b831381d-6324-0000-ad4f-8cda48b30811", "second")});
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.find(*crypto::parse_uuid("b831381d-6324-4d53-ad4f-8cda48b30811"))->email,
            "first");
}

}  // namespace
}  // namespace xsup::worker::proxy::vless
