#pragma once
// Hand-rolled protobuf encoding of tiny GeoIPList / GeoSiteList files for tests
// (spec/sniffing-routing.md §4 field numbers).

#include <asio/ip/address.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace xsup::worker::dispatch::router::testing {

inline std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

inline std::string bytes_field(std::uint32_t number, std::string_view payload) {
  return varint(number << 3 | 2) + varint(payload.size()) + std::string(payload);
}

inline std::string varint_field(std::uint32_t number, std::uint64_t value) {
  return varint(number << 3 | 0) + varint(value);
}

// CIDR { bytes ip = 1; uint32 prefix = 2; }
inline std::string cidr(std::string_view address, unsigned prefix) {
  auto ip = asio::ip::make_address(std::string(address));
  std::string raw;
  if (ip.is_v4()) {
    for (auto b : ip.to_v4().to_bytes()) raw.push_back(static_cast<char>(b));
  } else {
    for (auto b : ip.to_v6().to_bytes()) raw.push_back(static_cast<char>(b));
  }
  return bytes_field(1, raw) + varint_field(2, prefix);
}

struct GeoIpEntry {
  std::string code;
  std::vector<std::pair<std::string, unsigned>> cidrs;
};

inline std::string geoip_list(std::initializer_list<GeoIpEntry> entries) {
  std::string out;
  for (const auto& e : entries) {
    std::string body = bytes_field(1, e.code);
    for (const auto& [address, prefix] : e.cidrs) body += bytes_field(2, cidr(address, prefix));
    out += bytes_field(1, body);
  }
  return out;
}

struct Domain {
  unsigned type;  // 0 plain, 1 regex, 2 domain, 3 full
  std::string value;
  std::vector<std::string> attributes;
};

struct GeoSiteEntry {
  std::string code;
  std::vector<Domain> domains;
};

inline std::string geosite_list(std::initializer_list<GeoSiteEntry> entries) {
  std::string out;
  for (const auto& e : entries) {
    std::string body = bytes_field(1, e.code);
    for (const auto& d : e.domains) {
      std::string domain = varint_field(1, d.type) + bytes_field(2, d.value);
      for (const auto& key : d.attributes) {
        domain += bytes_field(3, bytes_field(1, key) + varint_field(2, 1));
      }
      body += bytes_field(2, domain);
    }
    out += bytes_field(1, body);
  }
  return out;
}

}  // namespace xsup::worker::dispatch::router::testing
