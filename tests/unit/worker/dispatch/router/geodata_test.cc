#include "worker/dispatch/router/geodata.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/worker/dispatch/router/geodata_builder.h"

namespace xsup::worker::dispatch::router {
namespace {

using base::Errc;
using namespace testing;  // NOLINT(google-build-using-namespace)

TEST(GeoData, FindsGeoIpByCode) {
  std::string file = geoip_list({
      {"CN", {{"1.0.1.0", 24}, {"240e::", 20}}},
      {"PRIVATE", {{"10.0.0.0", 8}, {"192.168.0.0", 16}, {"fc00::", 7}}},
  });
  auto cn = find_geoip(file, "CN");
  ASSERT_TRUE(cn) << cn.error().message();
  ASSERT_EQ(cn->size(), 2u);
  EXPECT_EQ((*cn)[0].network.to_string(), "1.0.1.0");
  EXPECT_EQ((*cn)[0].prefix, 24);
  EXPECT_EQ((*cn)[1].network.to_string(), "240e::");
  EXPECT_EQ((*cn)[1].prefix, 20);

  auto priv = find_geoip(file, "PRIVATE");
  ASSERT_TRUE(priv);
  EXPECT_EQ(priv->size(), 3u);

  auto missing = find_geoip(file, "US");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(missing.error().is(Errc::kUnsupported));
  // Codes are compared exactly; callers upper-case.
  EXPECT_FALSE(find_geoip(file, "cn"));
}

TEST(GeoData, HostBitsAreClearedAndMappedAddressesUnmapped) {
  std::string file = geoip_list({{"X", {{"10.1.2.3", 8}, {"::ffff:192.0.2.0", 120}}}});
  auto x = find_geoip(file, "X");
  ASSERT_TRUE(x);
  ASSERT_EQ(x->size(), 2u);
  EXPECT_EQ((*x)[0].network.to_string(), "10.0.0.0");
  EXPECT_EQ((*x)[1].network.to_string(), "192.0.2.0");
  EXPECT_EQ((*x)[1].prefix, 24);
}

TEST(GeoData, BadCidrIsAnError) {
  std::string bad_prefix =
      bytes_field(1, bytes_field(1, "X") + bytes_field(2, cidr("10.0.0.0", 33)));
  EXPECT_TRUE(find_geoip(bad_prefix, "X").error().is(Errc::kProtocol));
  std::string bad_length = bytes_field(
      1, bytes_field(1, "X") + bytes_field(2, bytes_field(1, "abc") + varint_field(2, 8)));
  EXPECT_TRUE(find_geoip(bad_length, "X").error().is(Errc::kProtocol));
}

TEST(GeoData, FindsGeoSiteWithAttributes) {
  std::string file = geosite_list({
      {"GOOGLE",
       {{2, "google.com", {}}, {3, "www.google.cn", {"cn"}}, {1, "^ads\\.", {"ads", "cn"}}}},
      {"CN", {{0, "baidu", {}}}},
  });
  auto google = find_geosite(file, "GOOGLE");
  ASSERT_TRUE(google) << google.error().message();
  ASSERT_EQ(google->size(), 3u);
  EXPECT_EQ((*google)[0].type, 2u);
  EXPECT_EQ((*google)[0].value, "google.com");
  EXPECT_TRUE((*google)[0].attributes.empty());
  EXPECT_EQ((*google)[1].attributes, std::vector<std::string>{"cn"});
  EXPECT_EQ((*google)[2].type, 1u);
  EXPECT_EQ((*google)[2].attributes, (std::vector<std::string>{"ads", "cn"}));
  auto cn = find_geosite(file, "CN");
  ASSERT_TRUE(cn);
  ASSERT_EQ(cn->size(), 1u);
  EXPECT_EQ((*cn)[0].value, "baidu");
}

TEST(GeoData, UnknownFieldsAreSkipped) {
  // A top-level field 2 (varint), then an entry with an unknown fixed32 field before the code.
  std::string body = std::string("\x1d\x01\x02\x03\x04", 5) + bytes_field(1, "X") +
                     bytes_field(2, cidr("192.0.2.0", 24)) + varint_field(3, 1);
  std::string file = varint_field(2, 300) + bytes_field(1, body);
  auto x = find_geoip(file, "X");
  ASSERT_TRUE(x) << x.error().message();
  EXPECT_EQ(x->size(), 1u);
}

TEST(GeoData, TruncatedFilesNeverOverRead) {
  std::string file =
      geosite_list({{"A", {{2, "a.example", {"x"}}}}, {"B", {{3, "b.example", {}}}}});
  for (std::size_t n = 0; n < file.size(); ++n) {
    // A copy so that AddressSanitizer would see a read past the prefix.
    std::string prefix = file.substr(0, n);
    auto b = find_geosite(prefix, "B");
    EXPECT_FALSE(b) << n;
  }
  EXPECT_TRUE(find_geosite(file, "B"));
  // A varint that never ends, and one over 64 bits.
  EXPECT_TRUE(find_geoip(std::string(12, '\xff'), "X").error().is(Errc::kProtocol));
  EXPECT_TRUE(find_geoip(std::string("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11), "X")
                  .error()
                  .is(Errc::kProtocol));
  // A length far beyond the file.
  EXPECT_TRUE(find_geoip(std::string("\x0a\x90\x4e", 3), "X").error().is(Errc::kProtocol));
  // An empty file has no codes.
  EXPECT_TRUE(find_geoip("", "X").error().is(Errc::kUnsupported));
}

TEST(AssetFiles, AddedAndFromDirectory) {
  auto dir = std::filesystem::temp_directory_path() / "xsup_asset_files_test";
  std::filesystem::create_directories(dir);
  { std::ofstream(dir / "geoip.dat", std::ios::binary) << "bytes-on-disk"; }
  AssetFiles assets(dir);
  assets.add("geosite.dat", "bytes-added");
  auto site = assets.get("geosite.dat");
  ASSERT_TRUE(site);
  EXPECT_EQ(*site, "bytes-added");
  auto ip = assets.get("geoip.dat");
  ASSERT_TRUE(ip);
  EXPECT_EQ(*ip, "bytes-on-disk");
  EXPECT_FALSE(assets.get("missing.dat"));
  EXPECT_FALSE(AssetFiles().get("geoip.dat"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace xsup::worker::dispatch::router
