#include "worker/dispatch/router/domain_matcher.h"

#include <gtest/gtest.h>

#include "tests/unit/worker/dispatch/router/geodata_builder.h"

namespace xsup::worker::dispatch::router {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

DomainMatcher compile(std::vector<std::string> entries, AssetFiles& assets) {
  auto m = DomainMatcher::compile(entries, assets);
  EXPECT_TRUE(m) << m.error().to_string();
  return m ? std::move(*m) : DomainMatcher();
}

DomainMatcher compile(std::vector<std::string> entries) {
  AssetFiles none;
  return compile(std::move(entries), none);
}

TEST(DomainMatcher, PlainAndKeywordAreSubstrings) {
  auto m = compile({"Google", "keyword:tube"});
  EXPECT_TRUE(m.match("www.google.com"));
  EXPECT_TRUE(m.match("googleapis.com"));
  EXPECT_TRUE(m.match("youtube.com"));
  EXPECT_TRUE(m.match("WWW.GOOGLE.COM"));  // queried names are lower-cased
  EXPECT_FALSE(m.match("example.com"));
  EXPECT_FALSE(m.match(""));
}

TEST(DomainMatcher, DomainIsEqualOrSuffixAtADot) {
  auto m = compile({"domain:Example.com"});
  EXPECT_TRUE(m.match("example.com"));
  EXPECT_TRUE(m.match("a.example.com"));
  EXPECT_TRUE(m.match("a.b.example.com"));
  EXPECT_FALSE(m.match("notexample.com"));
  EXPECT_FALSE(m.match("example.com.cn"));
  EXPECT_FALSE(m.match("com"));
}

TEST(DomainMatcher, FullIsExact) {
  auto m = compile({"full:www.example.com"});
  EXPECT_TRUE(m.match("www.example.com"));
  EXPECT_FALSE(m.match("a.www.example.com"));
  EXPECT_FALSE(m.match("example.com"));
}

TEST(DomainMatcher, RegexpIsAnUnanchoredCaseSensitiveSearch) {
  auto m = compile({"regexp:\\.goo.*\\.com$", "regexp:^API\\."});
  EXPECT_TRUE(m.match("www.google.com"));
  EXPECT_FALSE(m.match("www.google.co"));
  // The pattern keeps its case but the input is lower-cased, so ^API never matches.
  EXPECT_FALSE(m.match("API.example.com"));
  EXPECT_FALSE(m.match("api.example.com"));
}

TEST(DomainMatcher, Dotless) {
  auto any = compile({"dotless:"});
  EXPECT_TRUE(any.match("localhost"));
  EXPECT_FALSE(any.match("example.com"));
  auto some = compile({"dotless:srv"});
  EXPECT_TRUE(some.match("mysrv1"));
  EXPECT_FALSE(some.match("host"));
  EXPECT_FALSE(some.match("srv.lan"));
}

TEST(DomainMatcher, ErrorsNameTheEntry) {
  AssetFiles none;
  std::vector<std::string> bad_regex = {"full:ok.example", "regexp:(unclosed"};
  auto m = DomainMatcher::compile(bad_regex, none);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().index, 1u);
  EXPECT_EQ(m.error().entry, "regexp:(unclosed");
  EXPECT_EQ(m.error().message, "invalid regular expression");

  std::vector<std::string> dotted = {"dotless:a.b"};
  EXPECT_FALSE(DomainMatcher::compile(dotted, none));
  std::vector<std::string> no_file = {"geosite:cn"};
  auto missing = DomainMatcher::compile(no_file, none);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "geosite file not found: geosite.dat");
  std::vector<std::string> empty = {"domain:"};
  EXPECT_FALSE(DomainMatcher::compile(empty, none));
}

TEST(DomainMatcher, GeoSiteCodesAndAttributes) {
  AssetFiles assets;
  assets.add("geosite.dat", geosite_list({
                                {"GOOGLE",
                                 {{2, "google.com", {}},
                                  {3, "www.google.cn", {"cn"}},
                                  {1, "^ads[0-9]+\\.", {"ads", "CN"}},
                                  {0, "gstatic", {}},
                                  {1, "(bad", {}},
                                  {9, "unknown-type.example", {}}}},
                                {"CN", {{2, "cn", {}}}},
                            }));
  assets.add("custom.dat", geosite_list({{"MINE", {{3, "mine.example", {}}}}}));

  auto google = compile({"geosite:google"}, assets);  // code upper-cased
  EXPECT_TRUE(google.match("mail.google.com"));
  EXPECT_TRUE(google.match("www.google.cn"));
  EXPECT_TRUE(google.match("ads12.example"));
  EXPECT_TRUE(google.match("fonts.gstatic.com"));
  EXPECT_FALSE(google.match("google.cn"));
  EXPECT_FALSE(google.match("unknown-type.example"));  // invalid entries are skipped

  auto cn_only = compile({"geosite:google@cn"}, assets);
  EXPECT_TRUE(cn_only.match("www.google.cn"));
  EXPECT_TRUE(cn_only.match("ads1.x"));
  EXPECT_FALSE(cn_only.match("mail.google.com"));

  auto both = compile({"geosite:GOOGLE@Ads@cn"}, assets);  // ALL attributes must be present
  EXPECT_TRUE(both.match("ads1.x"));
  EXPECT_FALSE(both.match("www.google.cn"));

  auto ext = compile({"ext:custom.dat:mine", "ext-site:geosite.dat:cn"}, assets);
  EXPECT_TRUE(ext.match("mine.example"));
  EXPECT_TRUE(ext.match("baidu.cn"));
  EXPECT_FALSE(ext.match("google.com"));

  std::vector<std::string> missing_code = {"geosite:nope"};
  auto m = DomainMatcher::compile(missing_code, assets);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message, "code not found in geosite.dat: NOPE");
}

TEST(DomainMatcher, OverLongNamesSkipRegexes) {
  auto m = compile({"regexp:a+$", "domain:example.com"});
  std::string name(100000, 'a');
  EXPECT_FALSE(m.match(name));
  EXPECT_TRUE(m.match(name + ".example.com"));
  EXPECT_TRUE(m.match("aaa"));
}

}  // namespace
}  // namespace xsup::worker::dispatch::router
