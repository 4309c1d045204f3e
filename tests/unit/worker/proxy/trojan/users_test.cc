#include "worker/proxy/trojan/users.h"

#include <gtest/gtest.h>

#include <cctype>

#include "worker/proxy/trojan/codec.h"

namespace xsup::worker::proxy::trojan {
namespace {

TEST(TrojanUsers, LookupByHexKey) {
  UserTable table({{"password", "a@x", 2}, {"other", "b@x", 0}, {"password", "dup@x", 0}});
  EXPECT_EQ(table.size(), 2u);
  const User* a = table.find("d63dc919e201d7bc4c825630d2cf25fdc93d4b2f0d46706d29038d01");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->email, "a@x");
  EXPECT_EQ(a->level, 2u);
  // The comparison is exact: uppercase hex matches nobody.
  std::string upper = "d63dc919e201d7bc4c825630d2cf25fdc93d4b2f0d46706d29038d01";
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(table.find(upper), nullptr);
  const Key other = password_key("other");
  EXPECT_EQ(table.find({other.data(), other.size()})->email, "b@x");
  EXPECT_EQ(table.find("short"), nullptr);
}

TEST(TrojanUsers, StoreUsersOfThisInboundAddToTheConfig) {
  users::UserSet store;
  store.version = 1;
  store.users.push_back({"s@x", "", "from-store", "", 1, {"in"}});
  store.users.push_back({"o@x", "", "elsewhere", "", 0, {"other"}});
  UserTable table({{"password", "a@x", 0}}, &store, "in");
  EXPECT_EQ(table.size(), 2u);
  const Key key = password_key("from-store");
  const User* s = table.find({key.data(), key.size()});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->email, "s@x");
  EXPECT_TRUE(s->from_store);
  const Key other = password_key("elsewhere");
  EXPECT_EQ(table.find({other.data(), other.size()}), nullptr);
}

}  // namespace
}  // namespace xsup::worker::proxy::trojan
