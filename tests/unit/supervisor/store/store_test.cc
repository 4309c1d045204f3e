#include "supervisor/store/store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace xsup::supervisor::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/xsup-store-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/sub/xsup.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  std::string path_;
};

TEST_F(StoreTest, CreatesMigratesAndReopens) {
  {
    auto store = Store::open(path_);
    EXPECT_EQ(store->schema_version(), 2);
    EXPECT_EQ(store->integrity_check(), "ok");
  }
  auto again = Store::open(path_);
  EXPECT_EQ(again->schema_version(), 2);
  EXPECT_TRUE(std::filesystem::exists(path_ + "-wal") || std::filesystem::exists(path_));
}

TEST_F(StoreTest, UsersRoundTrip) {
  auto store = Store::open(path_);
  UserRecord a;
  a.email = "alice@example.com";
  a.uuid = "b831381d-6324-4d53-ad4f-8cda48b30811";
  a.password = "secret";
  a.level = 1;
  a.inbounds = {"socks-in", "vless-in"};
  a.quota = 10'000'000;
  a.expire_at = 1'900'000'000;
  a.ip_limit = 3;
  store->insert_user(a);
  EXPECT_GT(a.id, 0);
  UserRecord dup;
  dup.email = a.email;
  EXPECT_THROW(store->insert_user(dup), StoreError);

  a.disabled = DisabledReason::kQuota;
  a.inbounds = {"socks-in"};
  store->update_user(a);
  auto users = store->load_users();
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].email, a.email);
  EXPECT_EQ(users[0].uuid, a.uuid);
  EXPECT_EQ(users[0].password, "secret");
  EXPECT_EQ(users[0].level, 1u);
  EXPECT_EQ(users[0].quota, 10'000'000u);
  EXPECT_EQ(users[0].expire_at, 1'900'000'000);
  EXPECT_EQ(users[0].ip_limit, 3u);
  EXPECT_EQ(users[0].disabled, DisabledReason::kQuota);
  EXPECT_EQ(users[0].inbounds, std::vector<std::string>{"socks-in"});

  store->delete_user(users[0]);
  EXPECT_TRUE(store->load_users().empty());
}

TEST_F(StoreTest, FlushAddsToTotalsAndMinuteRows) {
  auto store = Store::open(path_);
  std::map<CounterKey, Traffic> d1 = {{{"user", "a"}, {100, 200, 1}},
                                      {{"inbound", "in"}, {100, 200, 1}}};
  store->flush(d1, 600);
  store->flush(d1, 600);
  store->flush({{{"user", "a"}, {1, 2, 0}}}, 660);
  auto totals = store->load_totals();
  EXPECT_EQ(totals[(CounterKey{"user", "a"})].uplink, 201u);
  EXPECT_EQ(totals[(CounterKey{"user", "a"})].downlink, 402u);
  EXPECT_EQ(totals[(CounterKey{"user", "a"})].connections, 2u);
  EXPECT_EQ(totals[(CounterKey{"inbound", "in"})].downlink, 400u);
  auto rows = store->history({"user", "a"}, 0, 10'000);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].start, 600);
  EXPECT_EQ(rows[0].seconds, 60);
  EXPECT_EQ(rows[0].traffic.uplink, 200u);
  EXPECT_EQ(rows[1].start, 660);
  store->reset_total({"user", "a"});
  EXPECT_EQ(store->load_totals()[(CounterKey{"user", "a"})].uplink, 0u);
}

TEST_F(StoreTest, RollUpFoldsOldMinutesIntoHoursAndDays) {
  auto store = Store::open(path_);
  const std::int64_t now = 200 * 86400;
  const std::int64_t old_minute = now - 3 * 86400;  // older than 48 h
  const std::int64_t old_minute_2 = old_minute + 60;
  const std::int64_t recent = now - 3600;
  const std::int64_t ancient = now - 100 * 86400;  // older than 90 days
  store->flush({{{"user", "a"}, {10, 1, 1}}}, old_minute);
  store->flush({{{"user", "a"}, {20, 2, 1}}}, old_minute_2);
  store->flush({{{"user", "a"}, {5, 5, 0}}}, recent);
  store->flush({{{"user", "a"}, {7, 7, 0}}}, ancient);
  store->roll_up(now);
  auto rows = store->history({"user", "a"}, 0, now + 1);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].seconds, 86400);  // the ancient minute, folded twice
  EXPECT_EQ(rows[0].traffic.uplink, 7u);
  EXPECT_EQ(rows[1].seconds, 3600);  // the two old minutes in one hour
  EXPECT_EQ(rows[1].traffic.uplink, 30u);
  EXPECT_EQ(rows[1].start % 3600, 0);
  EXPECT_EQ(rows[2].seconds, 60);
  EXPECT_EQ(rows[2].traffic.uplink, 5u);
  // Totals are not history: folding leaves them alone.
  EXPECT_EQ(store->load_totals()[(CounterKey{"user", "a"})].uplink, 42u);
}

TEST_F(StoreTest, MigratesAVersionOneStoreKeepingItsUsers) {
  {
    auto store = Store::open(path_);
    UserRecord a;
    a.email = "old@example.com";
    a.password = "pw";
    a.inbounds = {"socks-in"};
    store->insert_user(a);
  }
  // Back to the first schema, as an xsup before ip_limit left it.
  std::string cmd = "sqlite3 " + path_ +
                    " 'ALTER TABLE users DROP COLUMN ip_limit; UPDATE schema_version SET "
                    "version = 1'";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "sqlite3 not available";
  auto store = Store::open(path_);
  EXPECT_EQ(store->schema_version(), 2);
  auto users = store->load_users();
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].email, "old@example.com");
  EXPECT_EQ(users[0].ip_limit, 0u);
  EXPECT_EQ(users[0].inbounds, std::vector<std::string>{"socks-in"});
}

TEST_F(StoreTest, RefusesANewerSchema) {
  { auto store = Store::open(path_); }
  {
    // A later xsup migrated this file further.
    auto store = Store::open(path_);
    (void)store;
  }
  std::string cmd = "sqlite3 " + path_ + " 'UPDATE schema_version SET version = 99'";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "sqlite3 not available";
  EXPECT_THROW(Store::open(path_), StoreError);
}

}  // namespace
}  // namespace xsup::supervisor::store
