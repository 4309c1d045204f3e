#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "worker/core/traffic.h"

namespace xsup::worker::core {
namespace {

using nlohmann::json;

struct Live {
  int closed = 0;
  UserConnections::Enrollment enrollment;
};

TEST(UserConnections, LocalIpCountKeepsANewIpOutAtTheLimit) {
  UserConnections registry;
  EXPECT_TRUE(registry.admits("a", "10.0.0.1", 2));
  Live one, two;
  one.enrollment = registry.enroll("a", "in", "10.0.0.1", [&] { ++one.closed; });
  two.enrollment = registry.enroll("a", "in", "10.0.0.2", [&] { ++two.closed; });
  EXPECT_TRUE(registry.admits("a", "10.0.0.1", 2));  // an IP already connected
  EXPECT_FALSE(registry.admits("a", "10.0.0.3", 2));
  EXPECT_TRUE(registry.admits("a", "10.0.0.3", 3));
  EXPECT_TRUE(registry.admits("a", "10.0.0.3", 0));  // no limit
  EXPECT_TRUE(registry.admits("b", "10.0.0.3", 1));  // another user
  two.enrollment.reset();
  EXPECT_TRUE(registry.admits("a", "10.0.0.3", 2));
}

TEST(UserConnections, ReportsChangedUsersOnce) {
  UserConnections registry;
  EXPECT_TRUE(registry.take_ip_report().is_null());
  Live one, two, other;
  one.enrollment = registry.enroll("a", "in", "10.0.0.1", [] {});
  two.enrollment = registry.enroll("a", "in", "10.0.0.1", [] {});  // same IP
  other.enrollment = registry.enroll("b", "in", "", [] {});        // not tracked
  EXPECT_EQ(registry.take_ip_report(), json::parse(R"({"a": ["10.0.0.1"]})"));
  EXPECT_TRUE(registry.take_ip_report().is_null());
  one.enrollment.reset();  // the IP still has a connection
  EXPECT_TRUE(registry.take_ip_report().is_null());
  two.enrollment.reset();
  EXPECT_EQ(registry.take_ip_report(), json::parse(R"({"a": []})"));
}

TEST(UserConnections, AllowedListsCloseOtherIpsAndDecideAdmission) {
  UserConnections registry;
  std::vector<Live> live(3);
  const char* ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.2"};
  for (std::size_t i = 0; i < live.size(); ++i) {
    live[i].enrollment = registry.enroll("a", "in", ips[i], [&live, i] { ++live[i].closed; });
  }
  Live untracked;
  untracked.enrollment = registry.enroll("a", "in", "", [&] { ++untracked.closed; });
  EXPECT_EQ(registry.set_allowed_ips(json::parse(R"({"a": ["10.0.0.1"]})")), 2u);
  EXPECT_EQ(live[0].closed, 0);
  EXPECT_EQ(live[1].closed, 1);
  EXPECT_EQ(live[2].closed, 1);
  EXPECT_EQ(untracked.closed, 0);
  EXPECT_TRUE(live[1].enrollment.revoked());
  // At the limit, only the allowed IPs get in, whatever this worker holds itself.
  EXPECT_TRUE(registry.admits("a", "10.0.0.1", 5));
  EXPECT_FALSE(registry.admits("a", "10.0.0.9", 5));
  // The list lifted: the local count decides again.
  EXPECT_EQ(registry.set_allowed_ips(json::object()), 0u);
  EXPECT_TRUE(registry.admits("a", "10.0.0.9", 5));
}

}  // namespace
}  // namespace xsup::worker::core
