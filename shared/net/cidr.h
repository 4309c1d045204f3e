#pragma once
// IP prefixes ("10.0.0.0/8", "2001:db8::/32", a bare address = host prefix).

#include <asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

namespace xsup::net {

struct Cidr {
  asio::ip::address network;  // host bits cleared
  std::uint8_t prefix = 0;    // 0..32 or 0..128

  // nullopt when the text is not an address or the prefix is out of range.
  static std::optional<Cidr> parse(std::string_view text);
  // False for an address of the other family (a v4-mapped v6 address counts as v4).
  bool contains(const asio::ip::address& ip) const;
};

}  // namespace xsup::net
