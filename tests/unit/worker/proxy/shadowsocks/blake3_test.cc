// BLAKE3 against the official test vectors (BLAKE3-team/BLAKE3 test_vectors/test_vectors.json:
// input bytes i % 251; first 32 bytes of each output) and against Debian's b3sum for the
// Shadowsocks 2022 contexts (spec/shadowsocks.md B.1, computed with
// `b3sum --derive-key CONTEXT` and `b3sum --keyed`).

#include "worker/proxy/shadowsocks/blake3.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace xsup::worker::proxy::shadowsocks {
namespace {

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

std::vector<std::uint8_t> input(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i % 251);
  return out;
}

struct Vector {
  std::size_t len;
  const char* hash;
  const char* keyed;
  const char* derive;
};

constexpr Vector kVectors[] = {
    {0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
     "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26",
     "2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d"},
    {1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
     "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b",
     "b3e2e340a117a499c6cf2398a19ee0d29cca2bb7404c73063382693bf66cb06c"},
    {1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
     "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e",
     "74a16c1c3d44368a86e1ca6df64be6a2f64cce8f09220787450722d85725dea5"},
    {1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
     "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4",
     "7356cd7720d5b66b6d0697eb3177d9f8d73a4a5c5e968896eb6a689684302706"},
    {1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
     "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69",
     "effaa245f065fbf82ac186839a249707c3bddf6d3fdda22d1b95a3c970379bcb"},
    {2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a",
     "879cf1fa2ea0e79126cb1063617a05b6ad9d0b696d0d757cf053439f60a99dd1",
     "7b2945cb4fef70885cc5d78a87bf6f6207dd901ff239201351ffac04e1088a23"},
    {2049, "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
     "9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5",
     "2ea477c5515cc3dd606512ee72bb3e0e758cfae7232826f35fb98ca1bcbdf273"},
    {3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2",
     "044a0e7b172a312dc02a4c9a818c036ffa2776368d7f528268d2e6b5df191770",
     "050df97f8c2ead654d9bb3ab8c9178edcd902a32f8495949feadcc1e0480c46b"},
    {3073, "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3",
     "68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a",
     "72613c9ec9ff7e40f8f5c173784c532ad852e827dba2bf85b2ab4b76f7079081"},
    {4096, "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969",
     "befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0",
     "1e0d7f3db8c414c97c6307cbda6cd27ac3b030949da8e23be1a1a924ad2f25b9"},
    {5121, "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff",
     "6ccf1c34753e7a044db80798ecd0782a8f76f33563accaddbfbb2e0ea4b2d024",
     "b07f01e518e702f7ccb44a267e9e112d403a7b3f4883a47ffbed4b48339b3c34"},
    {7169, "a003fc7a51754a9b3c7fae0367ab3d782dccf28855a03d435f8cfe74605e7817",
     "ed9b1a922c046fdb3d423ae34e143b05ca1bf28b710432857bf738bcedbfa511",
     "554b0a5efea9ef183f2f9b931b7497995d9eb26f5c5c6dad2b97d62fc5ac31d9"},
    {8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b",
     "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5",
     "af1e0346e389b17c23200270a64aa4e1ead98c61695d917de7d5b00491c9b0f1"},
    {16384, "f875d6646de28985646f34ee13be9a576fd515f76b5b0a26bb324735041ddde4",
     "9e9fc4eb7cf081ea7c47d1807790ed211bfec56aa25bb7037784c13c4b707b0d",
     "160e18b5878cd0df1c3af85eb25a0db5344d43a6fbd7a8ef4ed98d0714c3f7e1"},
    {31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47",
     "efa53b389ab67c593dba624d898d0f7353ab99e4ac9d42302ee64cbf9939a419",
     "39772aef80e0ebe60596361e45b061e8f417429d529171b6764468c22928e28e"},
    {102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085",
     "1c35d1a5811083fd7119f5d5d1ba027b4d01c0c6c49fb6ff2cf75393ea5db4a7",
     "4652cff7a3f385a6103b5c260fc1593e13c778dbe608efb092fe7ee69df6e9c6"},
};

constexpr std::string_view kKey = "whats the Elvish word for friend";
constexpr std::string_view kContext = "BLAKE3 2019-12-27 16:29:52 test vectors context";

TEST(Blake3, OfficialVectors) {
  const std::span<const std::uint8_t, 32> key(reinterpret_cast<const std::uint8_t*>(kKey.data()),
                                              32);
  for (const auto& v : kVectors) {
    const auto in = input(v.len);
    EXPECT_EQ(hex(Blake3::hash(in)), v.hash) << v.len;

    Blake3 keyed(key);
    keyed.update(in);
    EXPECT_EQ(hex(keyed.finish()), v.keyed) << v.len;

    std::array<std::uint8_t, 32> derived{};
    blake3_derive_key(kContext, in, derived);
    EXPECT_EQ(hex(derived), v.derive) << v.len;

    // Fed in uneven pieces, the same answer.
    Blake3 pieces;
    for (std::size_t at = 0; at < in.size();) {
      const std::size_t n = std::min<std::size_t>(1 + at % 97, in.size() - at);
      pieces.update({in.data() + at, n});
      at += n;
    }
    EXPECT_EQ(hex(pieces.finish()), v.hash) << v.len;
  }
}

// Runs b3sum on `data` (and on `key` as stdin for --keyed); its hex output, "" on failure.
std::string b3sum(const std::string& args, std::span<const std::uint8_t> data,
                  std::span<const std::uint8_t> key = {}) {
  const std::string dir = ::testing::TempDir();
  const std::string file = dir + "/xsup_b3sum_input";
  const std::string key_file = dir + "/xsup_b3sum_key";
  std::ofstream(file, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  std::ofstream(key_file, std::ios::binary)
      .write(reinterpret_cast<const char*>(key.data()), static_cast<std::streamsize>(key.size()));
  const std::string command = "b3sum --no-names " + args + " '" + file + "' < '" + key_file + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char line[256] = {};
  std::string out = std::fgets(line, sizeof line, pipe) != nullptr ? line : "";
  ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

TEST(Blake3, MatchesDebianB3sum) {
  if (std::system("b3sum --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "b3sum not installed";
  std::mt19937 rng(20261122);
  for (std::size_t len : {0u, 1u, 48u, 64u, 65u, 1024u, 1025u, 5000u, 70000u}) {
    std::vector<std::uint8_t> data(len);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    EXPECT_EQ(hex(Blake3::hash(data)), b3sum("", data)) << len;

    std::array<std::uint8_t, 32> key{};
    for (auto& b : key) b = static_cast<std::uint8_t>(rng());
    Blake3 keyed(key);
    keyed.update(data);
    EXPECT_EQ(hex(keyed.finish()), b3sum("--keyed", data, key)) << len;

    for (const char* context :
         {"shadowsocks 2022 session subkey", "shadowsocks 2022 identity subkey"}) {
      std::array<std::uint8_t, 32> derived{};
      blake3_derive_key(context, data, derived);
      EXPECT_EQ(hex(derived), b3sum(std::string("--derive-key '") + context + "'", data)) << len;
    }
  }
}

TEST(Blake3, ShadowsocksSessionSubkeyVector) {
  // spec/shadowsocks.md "2022": PSK 000102..0f || salt 101112..1f, 16-byte prefix.
  std::vector<std::uint8_t> material(32);
  for (std::size_t i = 0; i < material.size(); ++i) material[i] = static_cast<std::uint8_t>(i);
  std::array<std::uint8_t, 16> key{};
  blake3_derive_key("shadowsocks 2022 session subkey", material, key);
  EXPECT_EQ(hex(key), "bc32fb8d5205f7b84f9691dfb9f04ff3");
}

}  // namespace
}  // namespace xsup::worker::proxy::shadowsocks
