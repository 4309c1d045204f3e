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

TEST(VlessUsers, StoreUsersOfThisInboundAddToTheConfig) {
  users::UserSet store;
  store.version = 3;
  store.users.push_back({"s@x", "11111111-2222-4333-8444-555555555555", "", "", 2, {"in"}});
  store.users.push_back({"other@x", "22222222-2222-4333-8444-555555555555", "", "", 0, {"x"}});
  store.users.push_back({"dup@x", "b831381d-6324-4d53-ad4f-8cda48b30811", "", "", 0, {"in"}});
  UserTable table({user("b831381d-6324-4d53-ad4f-8cda48b30811", "a@x")}, &store, "in");
  EXPECT_EQ(table.size(), 2u);
  const User* s = table.find(*crypto::parse_uuid("11111111-2222-ffff-8444-555555555555"));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->email, "s@x");
  EXPECT_EQ(s->level, 2u);
  EXPECT_TRUE(s->from_store);
  EXPECT_EQ(table.find(*crypto::parse_uuid("22222222-2222-4333-8444-555555555555")), nullptr);
  const User* a = table.find(*crypto::parse_uuid("b831381d-6324-4d53-ad4f-8cda48b30811"));
  EXPECT_EQ(a->email, "a@x");  // the config's client comes first
  EXPECT_FALSE(a->from_store);
}

}  // namespace
}  // namespace xsup::worker::proxy::vless
