#include "worker/proxy/user_directory.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "worker/core/traffic.h"

namespace xsup::worker::proxy {
namespace {

using Clock = std::chrono::steady_clock;

std::string email_of(std::size_t i) { return "user" + std::to_string(i) + "@example.test"; }
std::string uuid_of(std::size_t i) {
  char text[40];
  std::snprintf(text, sizeof text, "00000000-0000-4000-8000-%012zx", i);
  return text;
}
std::string password_of(std::size_t i) { return "secret-" + std::to_string(i * 7919 + 13); }

// User i is on "socks-in" when i is even, on "vless-in" when odd, and on both when i is a
// multiple of 10.
std::vector<std::string> inbounds_of(std::size_t i) {
  if (i % 10 == 0) return {"socks-in", "vless-in"};
  return {i % 2 == 0 ? "socks-in" : "vless-in"};
}

users::UserSet make_set(std::size_t count, std::uint64_t version) {
  users::UserSet set;
  set.version = version;
  set.users.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    users::UserEntry u;
    u.email = email_of(i);
    u.uuid = uuid_of(i);
    u.password = password_of(i);
    u.level = static_cast<std::uint32_t>(i % 3);
    u.inbounds = inbounds_of(i);
    set.users.push_back(std::move(u));
  }
  return set;
}

TEST(UserDirectory, FindsEachOfTenThousandUsersByEmailUuidAndPasswordPerInbound) {
  UserDirectory directory;
  directory.replace(make_set(10000, 7));
  EXPECT_EQ(directory.size(), 10000u);
  EXPECT_EQ(directory.version(), 7u);
  EXPECT_TRUE(directory.has_users("socks-in"));
  EXPECT_TRUE(directory.has_users("vless-in"));
  EXPECT_FALSE(directory.has_users("other-in"));
  for (std::size_t i = 0; i < 10000; ++i) {
    for (const char* tag : {"socks-in", "vless-in"}) {
      auto tags = inbounds_of(i);
      bool on = std::find(tags.begin(), tags.end(), tag) != tags.end();
      const auto* by_email = directory.by_email(tag, email_of(i));
      const auto* by_uuid = directory.by_uuid(tag, uuid_of(i));
      const auto* by_password = directory.by_password(tag, password_of(i));
      if (!on) {
        ASSERT_EQ(by_email, nullptr) << i << " " << tag;
        ASSERT_EQ(by_uuid, nullptr) << i << " " << tag;
        ASSERT_EQ(by_password, nullptr) << i << " " << tag;
        continue;
      }
      ASSERT_NE(by_email, nullptr) << i << " " << tag;
      ASSERT_EQ(by_email->email, email_of(i));
      ASSERT_EQ(by_email->level, i % 3);
      ASSERT_EQ(by_uuid, by_email) << i;
      ASSERT_EQ(by_password, by_email) << i;
    }
  }
  // Unknown values, and values of one kind looked up as another, find nobody.
  EXPECT_EQ(directory.by_email("socks-in", "nobody@example.test"), nullptr);
  EXPECT_EQ(directory.by_email("socks-in", password_of(2)), nullptr);
  EXPECT_EQ(directory.by_password("socks-in", email_of(2)), nullptr);
  EXPECT_EQ(directory.by_uuid("socks-in", uuid_of(10001)), nullptr);
  EXPECT_EQ(directory.by_email("", email_of(2)), nullptr);
  // The tag and the value are kept apart: no concatenation finds someone.
  EXPECT_EQ(directory.by_email("socks-in\nuser2", "@example.test"), nullptr);
}

TEST(UserDirectory, EmptyDirectoryFindsNobody) {
  UserDirectory directory;
  EXPECT_EQ(directory.size(), 0u);
  EXPECT_FALSE(directory.has_users("socks-in"));
  EXPECT_EQ(directory.by_email("socks-in", email_of(0)), nullptr);
  EXPECT_EQ(directory.by_uuid("socks-in", uuid_of(0)), nullptr);
  EXPECT_EQ(directory.by_password("socks-in", password_of(0)), nullptr);
}

TEST(UserDirectory, ReplaceForgetsTheOldSetWhole) {
  UserDirectory directory;
  directory.replace(make_set(100, 1));
  ASSERT_NE(directory.by_email("socks-in", email_of(98)), nullptr);
  directory.replace(make_set(10, 2));
  EXPECT_EQ(directory.size(), 10u);
  EXPECT_EQ(directory.version(), 2u);
  EXPECT_EQ(directory.by_email("socks-in", email_of(98)), nullptr);
  EXPECT_EQ(directory.by_password("socks-in", password_of(98)), nullptr);
  EXPECT_NE(directory.by_email("socks-in", email_of(8)), nullptr);
}

// Live connections of users who lose access to their inbound are closed by replace(); the
// others, and connections of users who only lost another inbound, stay.
TEST(UserDirectory, ReplaceClosesTheConnectionsOfUsersWhoLostAccessOnly) {
  UserDirectory directory;
  directory.replace(make_set(10000, 1));
  auto& registry = core::user_connections();
  const std::size_t before = registry.size();

  struct Live {
    std::string user;
    std::string tag;
    int closed = 0;
    core::UserConnections::Enrollment enrollment;
  };
  // 0: on both inbounds, keeps both; 20: on both, loses vless-in; 4 and 5: removed;
  // 6: keeps socks-in; 9999: keeps vless-in.
  std::vector<Live> live(8);
  const std::pair<std::size_t, const char*> who[] = {
      {0, "socks-in"}, {0, "vless-in"}, {20, "socks-in"}, {20, "vless-in"},
      {4, "socks-in"}, {5, "vless-in"}, {6, "socks-in"},  {9999, "vless-in"}};
  for (std::size_t k = 0; k < live.size(); ++k) {
    live[k].user = email_of(who[k].first);
    live[k].tag = who[k].second;
  }
  for (auto& c : live) {
    c.enrollment = registry.enroll(c.user, c.tag, "", [&c] { ++c.closed; });
  }
  ASSERT_EQ(registry.size(), before + live.size());

  // A push with the same users closes nothing.
  EXPECT_EQ(directory.replace(make_set(10000, 2)), 0u);
  for (const auto& c : live) EXPECT_EQ(c.closed, 0) << c.user << " " << c.tag;

  auto next = make_set(10000, 3);
  next.users.erase(next.users.begin() + 4, next.users.begin() + 6);  // users 4 and 5
  for (auto& u : next.users) {
    if (u.email == email_of(20)) u.inbounds = {"socks-in"};
  }
  EXPECT_EQ(directory.replace(std::move(next)), 3u);
  const int expect_closed[] = {0, 0, 0, 1, 1, 1, 0, 0};
  for (std::size_t k = 0; k < live.size(); ++k) {
    EXPECT_EQ(live[k].closed, expect_closed[k]) << live[k].user << " " << live[k].tag;
    EXPECT_EQ(live[k].enrollment.revoked(), expect_closed[k] == 1)
        << live[k].user << " " << live[k].tag;
  }

  // A closed connection is not closed twice by the next push, even an emptier one.
  EXPECT_EQ(directory.replace(users::UserSet{4, {}}), 5u);  // the five still-live ones
  for (const auto& c : live) EXPECT_EQ(c.closed, 1) << c.user << " " << c.tag;

  // Enrollments leave the registry with their connections.
  live.clear();
  EXPECT_EQ(registry.size(), before);
}

TEST(UserDirectory, CheckAccountTakesConfigAccountsThenStoreUsersOfThatInbound) {
  auto& directory = user_directory();
  directory.replace(make_set(10000, 1));
  std::vector<config::Account> accounts(1);
  accounts[0].user = "alice";
  accounts[0].pass = "alice-pass";
  accounts[0].level = 2;

  auto config_user = check_account("socks-in", accounts, "alice", "alice-pass");
  ASSERT_TRUE(config_user.has_value());
  EXPECT_EQ(config_user->email, "alice");
  EXPECT_FALSE(config_user->from_store);

  auto store_user = check_account("socks-in", accounts, email_of(9998), password_of(9998));
  ASSERT_TRUE(store_user.has_value());
  EXPECT_EQ(store_user->email, email_of(9998));
  EXPECT_EQ(store_user->level, 9998u % 3);
  EXPECT_TRUE(store_user->from_store);

  EXPECT_FALSE(check_account("socks-in", accounts, email_of(9998), password_of(9997)));
  EXPECT_FALSE(check_account("socks-in", accounts, email_of(9998), ""));
  EXPECT_FALSE(check_account("socks-in", accounts, email_of(9999), password_of(9999)))
      << "user 9999 is on vless-in only";
  EXPECT_FALSE(check_account("socks-in", accounts, "alice", "wrong"));
  directory.replace(users::UserSet{});
  EXPECT_FALSE(check_account("socks-in", accounts, email_of(9998), password_of(9998)));
}

// Lookup cost does not grow with the directory: per lookup, a 10,000-user directory is at
// most ~5x slower than a 10-user one (the hash lookup is O(1); the margin covers cache
// misses and noise). Best of several trials, both sizes measured in turn.
TEST(UserDirectory, LookupCostDoesNotGrowWithTheNumberOfUsers) {
  constexpr std::size_t kLookups = 100000;
  auto measure = [](std::size_t users) {
    UserDirectory directory;
    directory.replace(make_set(users, 1));
    std::vector<std::string> emails, passwords;
    std::mt19937 rng(12345);
    for (std::size_t i = 0; i < 4096; ++i) {
      std::size_t n = rng() % users;
      n -= n % 2;  // even users are all on socks-in
      emails.push_back(email_of(n));
      passwords.push_back(password_of(n));
    }
    std::size_t found = 0;
    auto start = Clock::now();
    for (std::size_t i = 0; i < kLookups; ++i) {
      const auto& e = emails[i % emails.size()];
      const auto& p = passwords[(i * 7) % passwords.size()];
      found += directory.by_email("socks-in", e) != nullptr;
      found += directory.by_password("socks-in", p) != nullptr;
    }
    auto elapsed = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    EXPECT_EQ(found, 2 * kLookups);
    return elapsed / (2.0 * kLookups);
  };
  double small = 1e18, large = 1e18;
  for (int trial = 0; trial < 3; ++trial) {
    small = std::min(small, measure(10));
    large = std::min(large, measure(10000));
  }
  std::printf("lookup: %.1f ns with 10 users, %.1f ns with 10,000 users (%.2fx)\n", small, large,
              large / small);
  EXPECT_LT(large, 5.0 * small) << small << " ns vs " << large << " ns per lookup";
}

}  // namespace
}  // namespace xsup::worker::proxy
