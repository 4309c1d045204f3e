#include "shared/config/reader.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace xsup::config {
namespace {

using nlohmann::json;

std::vector<std::string> all(const Diagnostics& d) {
  std::vector<std::string> out;
  for (const auto& item : d.list()) out.push_back((item.warning ? "W " : "E ") + item.to_string());
  return out;
}

TEST(ReaderTest, KeysMatchCaseInsensitivelyPreferringExact) {
  json j = json::parse(R"({"TcpCongestion": "b", "mark": 1})");
  Diagnostics d;
  {
    Object o(Value(&j, "sockopt", &d));
    EXPECT_EQ(o.get("tcpCongestion").as_string().value(), "b");
    EXPECT_EQ(o.get("MARK").as_uint32().value(), 1u);
    EXPECT_EQ(o.get("mark").path(), "sockopt.mark");
  }
  EXPECT_TRUE(d.list().empty()) << all(d).front();

  json exact = json::parse(R"({"Mark": 1, "mark": 2})");
  Object o(Value(&exact, "", &d));
  EXPECT_EQ(o.get("mark").as_uint32().value(), 2u);
}

TEST(ReaderTest, UnreadKeysBecomeWarnings) {
  json j = json::parse(R"({"known": 1, "extra": 2, "nested": {"deep": 3}})");
  Diagnostics d;
  {
    Object o(Value(&j, "inbounds[0]", &d));
    o.get("known");
    Object nested(o.get("nested"));
  }
  EXPECT_EQ(all(d), (std::vector<std::string>{"W inbounds[0].nested.deep: unknown field, ignored",
                                              "W inbounds[0].extra: unknown field, ignored"}));
  EXPECT_FALSE(d.has_errors());
}

TEST(ReaderTest, NullCountsAsAbsent) {
  json j = json::parse(R"({"a": null})");
  Diagnostics d;
  Object o(Value(&j, "", &d));
  EXPECT_TRUE(o.get("a").absent());
  EXPECT_FALSE(o.get("a").as_bool().has_value());
  EXPECT_FALSE(o.get("a").as_ports().has_value());
  EXPECT_FALSE(d.has_errors());
}

TEST(ReaderTest, TypeAndRangeErrorsNameThePath) {
  json j = json::parse(
      R"({"tcpMaxSeg": 99999, "b": "yes", "n": 1.5, "u": -1, "s": 3, "list": ["a", 2]})");
  Diagnostics d;
  {
    Object o(Value(&j, "inbounds[0].streamSettings.sockopt", &d));
    EXPECT_FALSE(o.get("tcpMaxSeg").as_int(1, 65535));
    EXPECT_FALSE(o.get("b").as_bool());
    EXPECT_FALSE(o.get("n").as_int(0, 10));
    EXPECT_FALSE(o.get("u").as_uint32());
    EXPECT_FALSE(o.get("s").as_string());
    EXPECT_FALSE(o.get("list").as_string_list());
  }
  EXPECT_EQ(all(d), (std::vector<std::string>{
                        "E inbounds[0].streamSettings.sockopt.tcpMaxSeg: 99999 is out of range "
                        "1..65535",
                        "E inbounds[0].streamSettings.sockopt.b: \"yes\" is not a boolean",
                        "E inbounds[0].streamSettings.sockopt.n: 1.5 is not an integer",
                        "E inbounds[0].streamSettings.sockopt.u: -1 is out of range 0..4294967295",
                        "E inbounds[0].streamSettings.sockopt.s: 3 is not a string",
                        "E inbounds[0].streamSettings.sockopt.list[1]: 2 is not a string",
                    }));
}

TEST(ReaderTest, StringListsTakeCommaSeparatedStrings) {
  json j = json::parse(R"({"a": "tcp,udp", "b": ["x", "y"], "c": ""})");
  Diagnostics d;
  Object o(Value(&j, "", &d));
  EXPECT_EQ(o.get("a").as_string_list().value(), (std::vector<std::string>{"tcp", "udp"}));
  EXPECT_EQ(o.get("b").as_string_list().value(), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(o.get("c").as_string_list().value().empty());
  EXPECT_FALSE(o.get("a").as_string_list(/*comma_string=*/false));
}

TEST(ReaderTest, Ports) {
  ::setenv("XSUP_READER_TEST_PORT", "8443", 1);
  ::unsetenv("XSUP_READER_TEST_UNSET");
  json j = json::parse(R"({"n": 443, "r": "1000-2000", "l": "53,443,1000-2000",
      "e": "env:XSUP_READER_TEST_PORT", "bad": "abc", "big": 70000, "unset": "env:XSUP_READER_TEST_UNSET",
      "zero": 0})");
  Diagnostics d;
  {
    Object o(Value(&j, "inbounds[1]", &d));
    EXPECT_TRUE(o.get("n").as_ports()->contains(443));
    EXPECT_TRUE(o.get("r").as_ports()->contains(1500));
    auto l = o.get("l").as_ports();
    ASSERT_TRUE(l);
    EXPECT_EQ(l->ranges().size(), 3u);
    EXPECT_TRUE(o.get("e").as_ports()->contains(8443));
    EXPECT_EQ(o.get("e").as_port().value(), 8443);
    EXPECT_FALSE(o.get("bad").as_ports());
    EXPECT_FALSE(o.get("big").as_ports());
    EXPECT_FALSE(o.get("unset").as_ports());
    EXPECT_FALSE(o.get("zero").as_ports());
    EXPECT_TRUE(o.get("zero").as_ports(0));
  }
  EXPECT_EQ(all(d), (std::vector<std::string>{
                        "E inbounds[1].bad: \"abc\" is not a port number",
                        "E inbounds[1].big: 70000 is out of range 1..65535",
                        "E inbounds[1].unset: environment variable XSUP_READER_TEST_UNSET is not "
                        "set",
                        "E inbounds[1].zero: 0 is out of range 1..65535",
                    }));
}

TEST(ReaderTest, NonObjectIsAnErrorAndReadsEmpty) {
  json j = json::parse(R"([1])");
  Diagnostics d;
  Object o(Value(&j, "policy", &d));
  EXPECT_FALSE(o.valid());
  EXPECT_TRUE(o.get("x").absent());
  EXPECT_EQ(all(d), (std::vector<std::string>{"E policy: [1] is not an object"}));
}

TEST(ReaderTest, DiagnosticToString) {
  EXPECT_EQ((Diagnostic{"a.b", "bad", false}).to_string(), "a.b: bad");
}

}  // namespace
}  // namespace xsup::config
