#pragma once
// IP conditions of a routing rule (`ip`, `sourceIP`, `localIP`), spec/sniffing-routing.md §3.3.
//
// Entries fall into up to four groups — plain CIDRs, negated CIDRs, geoip CIDRs, negated geoip
// CIDRs — each the union of its entries. The condition matches when ANY group matches; a
// negated group matches an address outside its union. A group holding no address of the
// queried family never matches, so `!10.0.0.0/8` alone does not match an IPv6 address.
// v4-mapped IPv6 addresses are treated as IPv4.
//
// Each group is a sorted list of disjoint address ranges per family: O(log n) per lookup,
// which matters for geoip:cn (~10k prefixes).

#include <asio/ip/address.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "shared/net/cidr.h"
#include "worker/dispatch/router/compile_error.h"
#include "worker/dispatch/router/geodata.h"

namespace xsup::worker::dispatch::router {

// A union of CIDRs as merged ranges.
class IpSet {
 public:
  void add(const net::Cidr& cidr);
  // Sorts and merges; call once after the last add() and before contains().
  void finish();

  bool contains(const asio::ip::address& ip) const;
  bool has_v4() const { return !v4_.empty(); }
  bool has_v6() const { return !v6_.empty(); }
  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  using V6 = unsigned __int128;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> v4_;
  std::vector<std::pair<V6, V6>> v6_;
};

class IpMatcher {
 public:
  // `entries` as written in the config; geoip files come from `assets`.
  static Compiled<IpMatcher> compile(std::span<const std::string> entries, AssetFiles& assets);

  bool match(const asio::ip::address& ip) const;
  // True when any of `ips` matches (several target IPs after DNS, §3.3).
  bool match_any(std::span<const asio::ip::address> ips) const;
  bool empty() const { return groups_.empty(); }

 private:
  struct Group {
    IpSet set;
    bool negated = false;
  };
  std::vector<Group> groups_;
};

}  // namespace xsup::worker::dispatch::router
