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

}  // namespace
}  // namespace xsup::worker::proxy::trojan
