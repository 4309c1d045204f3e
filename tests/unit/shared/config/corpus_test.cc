// Loads every configuration of the Xray example corpus (shared/xray-examples): none may
// crash the loader, and every rejection must say where and why.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>

#include "shared/config/loader.h"

namespace xsup::config {
namespace {

std::filesystem::path corpus_dir() {
  const char* shared = std::getenv("XSUP_SHARED_DIR");
  std::filesystem::path base = shared != nullptr ? shared : XSUP_SOURCE_DIR "/../shared";
  return base / "xray-examples";
}

TEST(ConfigCorpusTest, EveryExampleLoadsOrSaysWhy) {
  auto dir = corpus_dir();
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << dir << " is absent";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    auto ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".json" || ext == ".jsonc")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());

  int ok = 0;
  int failed = 0;
  std::map<std::string, int> reasons;  // first error message of each failed file
  for (const auto& file : files) {
    LoadResult result;
    ASSERT_NO_THROW(result = load_files({file.string()}, "")) << file;
    if (result.ok()) {
      ++ok;
      continue;
    }
    ++failed;
    for (const auto& d : result.errors()) {
      EXPECT_FALSE(d.path.empty()) << file << ": " << d.message;
      EXPECT_FALSE(d.message.empty()) << file << ": " << d.path;
    }
    ++reasons[result.errors().front().message];
    if (std::getenv("XSUP_CORPUS_VERBOSE") != nullptr) {
      for (const auto& d : result.diagnostics) {
        std::cout << file.lexically_relative(dir).string() << ": " << (d.warning ? "W " : "E ")
                  << d.to_string() << "\n";
      }
    }
  }
  std::cout << "[ corpus   ] " << files.size() << " files: " << ok << " ok, " << failed
            << " rejected\n";
  for (const auto& [reason, count] : reasons) {
    std::cout << "[ corpus   ]   " << count << " x " << reason << "\n";
  }
}

}  // namespace
}  // namespace xsup::config
