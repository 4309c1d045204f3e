#include "worker/proxy/fallback/table.h"

#include <algorithm>

namespace xsup::worker::proxy::fallback {
namespace {

// spec/vless.md §9.1: fewer first bytes than this are never parsed for a path.
constexpr std::size_t kMinFirst = 18;
// spec/vless.md §9.2 step 3: the path scan stops at this byte index.
constexpr std::size_t kPathScanEnd = 64;

}  // namespace

FallbackTable::FallbackTable(const std::vector<config::Fallback>& fallbacks) : entries_(fallbacks) {
  for (const auto& fb : entries_) by_name_[fb.name][fb.alpn][fb.path] = &fb;
  // Entries with an empty name or ALPN are defaults, copied where the more specific maps
  // lack them (Xray's proxy/vless/inbound New): first the ALPN keys of name "", then the
  // paths of ALPN "" within each name, then the paths of name "" per ALPN.
  auto defaults = by_name_.find("");
  if (defaults != by_name_.end()) {
    for (auto& [name, by_alpn] : by_name_) {
      if (name.empty()) continue;
      for (const auto& [alpn, unused] : defaults->second) by_alpn.try_emplace(alpn);
    }
  }
  for (auto& [name, by_alpn] : by_name_) {
    auto any_alpn = by_alpn.find("");
    if (any_alpn == by_alpn.end()) continue;
    for (auto& [alpn, by_path] : by_alpn) {
      if (alpn.empty()) continue;
      for (const auto& [path, fb] : any_alpn->second) by_path.try_emplace(path, fb);
    }
  }
  if (defaults != by_name_.end()) {
    for (auto& [name, by_alpn] : by_name_) {
      if (name.empty()) continue;
      for (const auto& [alpn, by_path] : defaults->second) {
        for (const auto& [path, fb] : by_path) by_alpn[alpn].try_emplace(path, fb);
      }
    }
  }
}

std::string_view request_path(std::span<const std::uint8_t> first) {
  if (first.size() < kMinFirst || first[4] == '*') return {};
  for (std::size_t i = 4; i <= 8; ++i) {
    if (first[i] != '/' || first[i - 1] != ' ') continue;
    const std::size_t end = std::min(first.size(), kPathScanEnd);
    for (std::size_t j = i + 1; j < end; ++j) {
      const std::uint8_t c = first[j];
      if (c == '\r' || c == '\n') return {};
      if (c == '?' || c == ' ') return {reinterpret_cast<const char*>(first.data() + i), j - i};
    }
    return {};
  }
  return {};
}

const config::Fallback* FallbackTable::pick(std::string_view sni, std::string_view alpn,
                                            std::span<const std::uint8_t> first) const {
  if (by_name_.empty()) return nullptr;
  // 1. Name: exact, else the longest configured name inside the SNI, else "".
  std::string_view name;
  if (by_name_.size() > 1 || !by_name_.contains("")) {
    if (!sni.empty() && by_name_.contains(sni)) {
      name = sni;
    } else if (!sni.empty()) {
      for (const auto& [key, unused] : by_name_) {
        if (!key.empty() && key.size() > name.size() && sni.find(key) != std::string_view::npos) {
          name = key;
        }
      }
    }
  }
  auto by_alpn = by_name_.find(name);
  if (by_alpn == by_name_.end()) by_alpn = by_name_.find("");
  if (by_alpn == by_name_.end()) return nullptr;
  // 2. ALPN: exact, else "".
  auto by_path = by_alpn->second.find(alpn);
  if (by_path == by_alpn->second.end()) by_path = by_alpn->second.find("");
  if (by_path == by_alpn->second.end()) return nullptr;
  // 3. Path, when the choice depends on it.
  std::string_view path;
  const ByPath& paths = by_path->second;
  if (paths.size() > 1 || !paths.contains("")) {
    path = request_path(first);
    if (!paths.contains(path)) path = {};
  }
  auto fb = paths.find(path);
  return fb == paths.end() ? nullptr : fb->second;
}

}  // namespace xsup::worker::proxy::fallback
