// Several configuration files merged the Xray way (spec/config.md §3).

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "shared/config/loader.h"

namespace xsup::config {
namespace {

using nlohmann::json;

std::vector<std::string> tags(const json& list) {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(item.value("tag", ""));
  return out;
}

TEST(MergeTest, InboundsReplacedByTagInPlaceElseAppended) {
  json base = json::parse(R"({"inbounds": [{"tag": "a", "port": 1}, {"tag": "b", "port": 2}]})");
  merge_into(base,
             json::parse(R"({"inbounds": [{"tag": "c", "port": 3}, {"tag": "a", "port": 9}]})"),
             "two.json");
  EXPECT_EQ(tags(base["inbounds"]), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(base["inbounds"][0]["port"], 9);
}

TEST(MergeTest, EmptyTagIsATag) {
  json base = json::parse(R"({"inbounds": [{"port": 1}, {"tag": "b", "port": 2}]})");
  merge_into(base, json::parse(R"({"inbounds": [{"tag": "", "port": 5}]})"), "two.json");
  ASSERT_EQ(base["inbounds"].size(), 2u);
  EXPECT_EQ(base["inbounds"][0]["port"], 5);
}

TEST(MergeTest, NewOutboundsArePrepended) {
  json base = json::parse(R"({"outbounds": [{"tag": "direct"}, {"tag": "block", "x": 1}]})");
  merge_into(base, json::parse(R"({"outbounds": [{"tag": "p1"}, {"tag": "block", "x": 2},
      {"tag": "p2"}]})"),
             "/etc/xray/20-proxy.json");
  EXPECT_EQ(tags(base["outbounds"]), (std::vector<std::string>{"p1", "p2", "direct", "block"}));
  EXPECT_EQ(base["outbounds"][3]["x"], 2);
}

TEST(MergeTest, TailFilesAppendOutbounds) {
  json base = json::parse(R"({"outbounds": [{"tag": "direct"}]})");
  merge_into(base, json::parse(R"({"outbounds": [{"tag": "p1"}, {"tag": "p2"}]})"),
             "/etc/xray/99-Tail.json");
  EXPECT_EQ(tags(base["outbounds"]), (std::vector<std::string>{"direct", "p1", "p2"}));
}

TEST(MergeTest, SectionsAreReplacedWholeAndEnvMergedByKey) {
  json base = json::parse(R"({"routing": {"domainStrategy": "IPOnDemand", "rules": [{"port": 1}]},
      "log": {"loglevel": "debug", "access": "a"}, "env": {"A": "1", "B": "2"}})");
  merge_into(base, json::parse(R"({"Routing": {"rules": [{"port": 2}]}, "log": {"loglevel": "info"},
      "env": {"B": "3", "C": "4"}})"),
             "two.json");
  EXPECT_EQ(base["routing"], json::parse(R"({"rules": [{"port": 2}]})"));
  EXPECT_FALSE(base.contains("Routing"));
  EXPECT_EQ(base["log"], json::parse(R"({"loglevel": "info"})"));
  EXPECT_EQ(base["env"], json::parse(R"({"A": "1", "B": "3", "C": "4"})"));
}

class LoadFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("xsup_merge_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "conf.d");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  std::filesystem::path dir_;
};

TEST_F(LoadFilesTest, FilesThenConfdirInLexicalOrder) {
  std::string main = write("main.json", R"({
    // the base
    "inbounds": [{"tag": "socks", "protocol": "socks", "port": 1080}],
    "outbounds": [{"tag": "direct", "protocol": "freedom"}],
    "log": {"loglevel": "debug"}})");
  write("conf.d/20-block.jsonc", R"({"outbounds": [{"tag": "block", "protocol": "blackhole"}]})");
  write("conf.d/10-http.json", R"({"inbounds": [{"tag": "http", "protocol": "http", "port": 8080},
      {"tag": "socks", "protocol": "socks", "port": 1081}]})");
  write("conf.d/30-tail.json", R"({"outbounds": [{"tag": "last", "protocol": "freedom"}]})");
  write("conf.d/ignored.txt", "not json");

  LoadResult r = load_files({main}, (dir_ / "conf.d").string());
  ASSERT_TRUE(r.ok()) << r.errors().front().to_string();
  ASSERT_EQ(r.config.inbounds.size(), 2u);
  EXPECT_EQ(r.config.inbounds[0].tag, "socks");
  EXPECT_TRUE(r.config.inbounds[0].ports.contains(1081));
  EXPECT_EQ(r.config.inbounds[1].tag, "http");
  ASSERT_EQ(r.config.outbounds.size(), 3u);
  EXPECT_EQ(r.config.outbounds[0].tag, "block");
  EXPECT_EQ(r.config.outbounds[1].tag, "direct");
  EXPECT_EQ(r.config.outbounds[2].tag, "last");
  EXPECT_EQ(r.config.log.level, log::Level::kDebug);
}

TEST_F(LoadFilesTest, ParseErrorsNameTheFile) {
  std::string good = write("a.json", "{}");
  std::string bad = write("b.json", "{\n  \"log\": {},\n}\n");
  LoadResult r = load_files({good, bad}, "");
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_EQ(r.errors()[0].path, bad);
  EXPECT_EQ(r.errors()[0].message.rfind("line 3, column 1: ", 0), 0u) << r.errors()[0].message;
}

TEST_F(LoadFilesTest, MissingFileAndEmptyList) {
  LoadResult r = load_files({(dir_ / "nope.json").string()}, "");
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_EQ(r.errors()[0].message, "cannot read: No such file or directory");
  EXPECT_FALSE(load_files({}, "").ok());
}

// The multi-file example of the Xray documentation (shared/xray-examples): its three parts
// merged must give the merged result printed on the same page.
TEST_F(LoadFilesTest, XrayDocumentationExample) {
  const char* shared = std::getenv("XSUP_SHARED_DIR");
  std::filesystem::path dir = shared != nullptr ? shared : XSUP_SOURCE_DIR "/../shared";
  dir /= "xray-examples/_from-Xray-docs-next/config/features/multiple";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << dir << " is absent";
  std::filesystem::copy_file(dir / "L43.jsonc", dir_ / "01_base.json");
  std::filesystem::copy_file(dir / "L67.jsonc", dir_ / "02_outbound.json");
  std::filesystem::copy_file(dir / "L91.jsonc", dir_ / "03_tail.json");

  LoadResult merged = load_files({}, dir_.string());
  LoadResult expected = load_files({(dir / "L104.jsonc").string()}, "");
  ASSERT_TRUE(merged.ok());
  ASSERT_TRUE(expected.ok());
  auto outbound_tags = [](const Config& c) {
    std::vector<std::string> out;
    for (const auto& o : c.outbounds) out.push_back(o.tag + "/" + o.protocol);
    return out;
  };
  EXPECT_EQ(outbound_tags(merged.config), outbound_tags(expected.config));
  EXPECT_EQ(outbound_tags(merged.config),
            (std::vector<std::string>{"block/blackhole", "direct/freedom", "direct2/freedom"}));
  ASSERT_EQ(merged.config.inbounds.size(), 1u);
  EXPECT_EQ(merged.config.inbounds[0].listen, expected.config.inbounds.at(0).listen);
  EXPECT_TRUE(merged.config.inbounds[0].ports.contains(1080));
  EXPECT_EQ(merged.config.log.level, log::Level::kDebug);
  EXPECT_EQ(merged.config.log.level, expected.config.log.level);
}

}  // namespace
}  // namespace xsup::config
