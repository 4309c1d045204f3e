#include "supervisor/users/ip_limits.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace xsup::supervisor::users {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class IpLimitsTest : public ::testing::Test {
 protected:
  bool recompute() {
    return limits_.recompute([this](const std::string& email) -> std::uint32_t {
      auto it = limit_.find(email);
      return it == limit_.end() ? 0 : it->second;
    });
  }
  IpLimits limits_;
  std::map<std::string, std::uint32_t> limit_ = {{"a", 2}};
  IpLimits::Clock::time_point t0_ = IpLimits::Clock::now();
};

TEST_F(IpLimitsTest, UnderTheLimitNothingIsSent) {
  limits_.report(100, json::parse(R"({"a": ["1.1.1.1"]})"), t0_);
  EXPECT_FALSE(recompute());
  EXPECT_EQ(limits_.allowed_json(), json::object());
}

TEST_F(IpLimitsTest, TheFirstIpsAcrossWorkersStay) {
  limits_.report(100, json::parse(R"({"a": ["3.3.3.3"]})"), t0_ + seconds(2));
  limits_.report(200, json::parse(R"({"a": ["1.1.1.1", "2.2.2.2"]})"), t0_);
  limits_.report(100, json::parse(R"({"a": ["3.3.3.3", "2.2.2.2"]})"), t0_ + seconds(3));
  ASSERT_TRUE(recompute());
  EXPECT_EQ(limits_.allowed_json(), json::parse(R"({"a": ["1.1.1.1", "2.2.2.2"]})"));
  EXPECT_FALSE(recompute());  // unchanged
  // Worker 200 ends: 2.2.2.2 is still held by worker 100, 1.1.1.1 is gone.
  limits_.forget(200);
  ASSERT_TRUE(recompute());
  EXPECT_EQ(limits_.allowed_json(), json::parse(R"({"a": ["2.2.2.2", "3.3.3.3"]})"));
  // Below the limit again: the list is lifted.
  limits_.report(100, json::parse(R"({"a": ["3.3.3.3"]})"), t0_ + seconds(4));
  ASSERT_TRUE(recompute());
  EXPECT_EQ(limits_.allowed_json(), json::object());
}

TEST_F(IpLimitsTest, ALimitLiftedOrAUserGoneClearsTheList) {
  limits_.report(100, json::parse(R"({"a": ["1.1.1.1", "2.2.2.2"], "b": ["9.9.9.9"]})"), t0_);
  ASSERT_TRUE(recompute());
  EXPECT_TRUE(limits_.allowed_json().contains("a"));
  EXPECT_FALSE(limits_.allowed_json().contains("b"));  // no limit
  limit_.erase("a");
  ASSERT_TRUE(recompute());
  EXPECT_EQ(limits_.allowed_json(), json::object());
}

TEST_F(IpLimitsTest, AnIpThatLeftComesBackAsNew) {
  limits_.report(100, json::parse(R"({"a": ["1.1.1.1", "2.2.2.2"]})"), t0_);
  limits_.report(100, json::parse(R"({"a": ["2.2.2.2"]})"), t0_ + seconds(1));
  recompute();
  limits_.report(200, json::parse(R"({"a": ["3.3.3.3"]})"), t0_ + seconds(2));
  limits_.report(100, json::parse(R"({"a": ["2.2.2.2", "1.1.1.1"]})"), t0_ + seconds(3));
  ASSERT_TRUE(recompute());
  EXPECT_EQ(limits_.allowed_json(), json::parse(R"({"a": ["2.2.2.2", "3.3.3.3"]})"));
}

}  // namespace
}  // namespace xsup::supervisor::users
