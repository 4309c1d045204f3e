#include "worker/dispatch/router/ip_matcher.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace xsup::worker::dispatch::router {
namespace {

asio::ip::address unmap(const asio::ip::address& ip) {
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  }
  return ip;
}

unsigned __int128 v6_value(const asio::ip::address_v6& ip) {
  unsigned __int128 out = 0;
  for (std::uint8_t b : ip.to_bytes()) out = out << 8 | b;
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Strips leading '!' (each one toggles, §3.3).
bool strip_negation(std::string_view& text) {
  bool negated = false;
  while (!text.empty() && text.front() == '!') {
    negated = !negated;
    text.remove_prefix(1);
  }
  return negated;
}

template <class T>
void merge(std::vector<std::pair<T, T>>& ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<T, T>> out;
  for (const auto& range : ranges) {
    // Adjacent ranges merge too; `back().second + 1` cannot overflow unless it is the maximum,
    // in which case the range already covers everything after it.
    if (!out.empty() &&
        (out.back().second == static_cast<T>(~T{0}) || range.first <= out.back().second + 1)) {
      out.back().second = std::max(out.back().second, range.second);
    } else {
      out.push_back(range);
    }
  }
  ranges = std::move(out);
}

template <class T>
bool in_ranges(const std::vector<std::pair<T, T>>& ranges, T value) {
  // The last range starting at or before `value`.
  auto it = std::upper_bound(ranges.begin(), ranges.end(), value,
                             [](T v, const std::pair<T, T>& r) { return v < r.first; });
  if (it == ranges.begin()) return false;
  return value <= std::prev(it)->second;
}

}  // namespace

void IpSet::add(const net::Cidr& cidr) {
  if (cidr.network.is_v4()) {
    std::uint32_t base = cidr.network.to_v4().to_uint();
    std::uint32_t host = cidr.prefix >= 32 ? 0 : ~std::uint32_t{0} >> cidr.prefix;
    v4_.emplace_back(base, base | host);
  } else {
    V6 base = v6_value(cidr.network.to_v6());
    V6 host = cidr.prefix >= 128 ? 0 : ~V6{0} >> cidr.prefix;
    v6_.emplace_back(base, base | host);
  }
}

void IpSet::finish() {
  merge(v4_);
  merge(v6_);
}

bool IpSet::contains(const asio::ip::address& ip) const {
  auto address = unmap(ip);
  if (address.is_v4()) return in_ranges(v4_, address.to_v4().to_uint());
  return in_ranges(v6_, v6_value(address.to_v6()));
}

Compiled<IpMatcher> IpMatcher::compile(std::span<const std::string> entries, AssetFiles& assets) {
  // Group order: CIDR, !CIDR, geoip, !geoip (§3.3); only non-empty groups are kept.
  std::array<IpSet, 4> sets;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string& entry = entries[i];
    auto fail = [&](std::string message) { return CompileError{"", i, entry, std::move(message)}; };
    std::string_view text = entry;
    bool negated = strip_negation(text);
    std::string_view file;
    std::string_view code;
    bool from_file = false;
    if (text.starts_with("geoip:")) {
      from_file = true;
      text.remove_prefix(6);
      if (strip_negation(text)) negated = !negated;  // "geoip:!cn"
      file = "geoip.dat";
      code = text;
    } else if (text.starts_with("ext:") || text.starts_with("ext-ip:")) {
      from_file = true;
      text.remove_prefix(text.find(':') + 1);
      std::size_t colon = text.find(':');
      if (colon == std::string_view::npos) return fail("expected ext:file:code");
      file = text.substr(0, colon);
      code = text.substr(colon + 1);
      if (strip_negation(code)) negated = !negated;
    }
    if (from_file) {
      if (file.empty() || code.empty()) return fail("expected a file and a code");
      auto bytes = assets.get(file);
      if (!bytes) return fail("geoip file not found: " + std::string(file));
      auto cidrs = find_geoip(*bytes, upper(code));
      if (!cidrs) {
        return fail(std::string(cidrs.error().reason) + " in " + std::string(file) + ": " +
                    upper(code));
      }
      IpSet& set = sets[negated ? 3 : 2];
      for (const auto& cidr : *cidrs) set.add(cidr);
      continue;
    }
    auto cidr = net::Cidr::parse(text);
    if (!cidr) return fail("invalid IP or CIDR");
    sets[negated ? 1 : 0].add(*cidr);
  }
  IpMatcher matcher;
  for (std::size_t g = 0; g < sets.size(); ++g) {
    if (sets[g].empty()) continue;
    sets[g].finish();
    matcher.groups_.push_back(Group{std::move(sets[g]), g == 1 || g == 3});
  }
  return matcher;
}

bool IpMatcher::match(const asio::ip::address& ip) const {
  auto address = unmap(ip);
  for (const Group& group : groups_) {
    // A group without an address of this family never matches (§3.3).
    if (address.is_v4() ? !group.set.has_v4() : !group.set.has_v6()) continue;
    if (group.set.contains(address) != group.negated) return true;
  }
  return false;
}

bool IpMatcher::match_any(std::span<const asio::ip::address> ips) const {
  return std::any_of(ips.begin(), ips.end(), [this](const auto& ip) { return match(ip); });
}

}  // namespace xsup::worker::dispatch::router
